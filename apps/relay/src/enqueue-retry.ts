/**
 * Runs `add` until it succeeds or `retryForMs` has passed, waiting 100 ms, 200 ms, ... up to 1 s
 * between tries; rethrows the last error. The same job id on every try makes a retry of an add that
 * did land (after it was counted as timed out) a no-op, not a second message.
 */
export async function addWithRetry(add: () => Promise<void>, retryForMs: number): Promise<void> {
  const giveUpAt = Date.now() + retryForMs
  for (let attempt = 0; ; attempt++) {
    try {
      await add()
      return
    } catch (error) {
      const wait = retryDelay(attempt)
      if (Date.now() + wait >= giveUpAt) throw error
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

function retryDelay(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 1_000)
}
