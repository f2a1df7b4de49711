/**
 * Polls `check` until it returns true (or a truthy value, which is returned), and fails after
 * `timeoutMs` with `what` and whatever `explain` adds. Tests wait for conditions, never for time.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | false | undefined | null> | T | false | undefined | null,
  options: { timeoutMs?: number; intervalMs?: number; explain?: () => string | Promise<string> } = {},
): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 200 } = options
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const detail = options.explain ? `\n${await options.explain()}` : ''
      const cause = lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${detail}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
