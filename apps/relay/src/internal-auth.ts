import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * Checks `Authorization: Bearer <secret>` in constant time. Both sides are hashed first so the
 * comparison takes the same time whatever the length of what the caller sent.
 */
export function createBearerCheck(secret: string): (header: string | undefined) => boolean {
  const expected = createHash('sha256').update(`Bearer ${secret}`).digest()
  return (header) => {
    const got = createHash('sha256').update(header ?? '').digest()
    return timingSafeEqual(got, expected)
  }
}
