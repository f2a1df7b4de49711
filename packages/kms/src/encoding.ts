/** base64url without padding, as JWK members are written. */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/**
 * Decodes base64url (padded or not). Node's decoder silently skips invalid characters, so the
 * result is re-encoded and compared to reject garbage instead of returning a shorter key.
 */
export function fromBase64Url(value: string): Uint8Array | null {
  const unpadded = value.endsWith('=') ? value.replace(/=+$/, '') : value
  const bytes = Buffer.from(unpadded, 'base64url')
  if (bytes.toString('base64url') !== unpadded) return null
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
