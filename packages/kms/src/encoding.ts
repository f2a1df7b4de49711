/** base64url without padding, as JWK members are written. */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/

/**
 * Decodes base64url (padded or not). Node's decoder silently skips invalid characters, so the
 * alphabet is checked first to reject garbage instead of returning a shorter key.
 */
export function fromBase64Url(value: string): Uint8Array | null {
  if (!BASE64URL.test(value)) return null
  const bytes = Buffer.from(value, 'base64url')
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
