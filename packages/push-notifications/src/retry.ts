import type { PushAttemptResult } from './push-result.js'

export interface RetryPolicy {
  maxAttempts: number
  baseMs: number
  maxMs: number
}

/**
 * Runs `attempt` until it is not transient or the attempts are used up. The pause doubles from
 * `baseMs` with jitter, is at least what the service asked for (Retry-After), and never exceeds
 * `maxMs`: a service asking for an hour gets no answer from us rather than a parked task.
 */
export async function withRetries(
  attempt: (attemptNumber: number) => Promise<PushAttemptResult>,
  policy: RetryPolicy,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<{ result: PushAttemptResult; attempts: number }> {
  let result: PushAttemptResult = { outcome: 'failed', reason: 'no attempt made' }
  for (let n = 1; n <= policy.maxAttempts; n++) {
    result = await attempt(n)
    if (result.outcome !== 'transient' || n === policy.maxAttempts) return { result, attempts: n }
    const backoff = policy.baseMs * 2 ** (n - 1) * (0.5 + Math.random() / 2)
    const wait = Math.min(policy.maxMs, Math.max(backoff, result.retryAfterMs ?? 0))
    if (result.retryAfterMs !== undefined && result.retryAfterMs > policy.maxMs) {
      return { result: { ...result, reason: `${result.reason}; Retry-After beyond the retry limit` }, attempts: n }
    }
    await sleep(wait)
  }
  return { result, attempts: policy.maxAttempts }
}
