import { RecordConcurrencyError } from './errors.js'

export interface RetryOnConflictOptions {
  /** Total tries, the first included. Default 5. */
  readonly attempts?: number
  /**
   * Pause before try `attempt` (2, 3, ...), in ms. Default: a small random pause that grows with
   * the attempt, so that writers that collided do not collide again in lockstep.
   */
  readonly backoffMs?: (attempt: number) => number
}

const defaultBackoff = (attempt: number): number => Math.random() * 5 * (attempt - 1)

/**
 * Runs `fn` again while it fails with `RecordConcurrencyError`. `fn` must re-read what it updates on
 * every call (a retry with the same stale copy would fail again). Any other error, and the conflict
 * after the last attempt, is thrown to the caller.
 */
export async function retryOnConflict<R>(
  fn: (attempt: number) => Promise<R>,
  options: RetryOnConflictOptions = {},
): Promise<R> {
  const attempts = options.attempts ?? 5
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a positive integer, got ${attempts}`)
  const backoff = options.backoffMs ?? defaultBackoff
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (error) {
      if (!(error instanceof RecordConcurrencyError) || attempt >= attempts) throw error
      const pause = backoff(attempt + 1)
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
}
