/** The per-socket token bucket state lives on the socket itself (two numbers), not in a closure. */
export interface TokenBucketState {
  tokens: number
  refilledAt: number
}

/** Refills by elapsed time and takes one token; false when the socket is over its rate. */
export function takeToken(s: TokenBucketState, perSec: number, burst: number, now: number): boolean {
  const elapsed = now - s.refilledAt
  if (elapsed > 0) {
    s.tokens = Math.min(burst, s.tokens + (elapsed * perSec) / 1000)
    s.refilledAt = now
  }
  if (s.tokens < 1) return false
  s.tokens -= 1
  return true
}
