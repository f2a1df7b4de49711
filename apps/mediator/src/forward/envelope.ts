/**
 * DIDComm v1 envelopes (Aries RFC 0019) as plain data: reading the protected header of a received
 * envelope without any Credo machinery. Decoding is as lenient as Credo's own (Node's base64 decoder
 * accepts base64 and base64url), so an envelope Credo can read is one we can read.
 */

/** The JWE-like JSON form of an envelope. */
export interface EnvelopeJson {
  protected: string
  iv: string
  ciphertext: string
  tag: string
}

export interface EnvelopeRecipient {
  encrypted_key: string
  header: { kid: string; iv?: string; sender?: string }
}

export interface ProtectedHeader {
  enc: string
  typ?: string
  alg: string
  recipients: EnvelopeRecipient[]
}

/** The one content encryption DIDComm v1 uses (its name is a legacy quirk: the cipher is C20P). */
export const ENVELOPE_ENC = 'xchacha20poly1305_ietf'
export const ENVELOPE_TYP = 'JWM/1.0'

/** Same test as Credo's `isValidJweStructure`: what decides that a message is an envelope at all. */
export function isEnvelope(value: Record<string, unknown>): value is Record<string, unknown> & EnvelopeJson {
  return (
    typeof value.protected === 'string' &&
    typeof value.iv === 'string' &&
    typeof value.ciphertext === 'string' &&
    typeof value.tag === 'string' &&
    value.iv !== '' &&
    value.ciphertext !== '' &&
    value.tag !== ''
  )
}

/** Decodes base64 or base64url, as Credo's `TypedArrayEncoder.fromBase64` does. */
export function fromBase64(text: string): Buffer {
  return Buffer.from(text, 'base64')
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/**
 * The protected header, or undefined when it is not one we could use: not base64 JSON, or missing
 * the fields every envelope has. Callers leave such envelopes to Credo, which reports them its way.
 */
export function readProtectedHeader(envelope: EnvelopeJson): ProtectedHeader | undefined {
  let header: unknown
  try {
    header = JSON.parse(fromBase64(envelope.protected).toString('utf8'))
  } catch {
    return undefined
  }
  if (header === null || typeof header !== 'object') return undefined
  const h = header as Record<string, unknown>
  if (typeof h.alg !== 'string' || typeof h.enc !== 'string' || !Array.isArray(h.recipients)) return undefined
  const recipients: EnvelopeRecipient[] = []
  for (const r of h.recipients as unknown[]) {
    if (r === null || typeof r !== 'object') return undefined
    const { encrypted_key: encryptedKey, header: rh } = r as Record<string, unknown>
    if (typeof encryptedKey !== 'string' || rh === null || typeof rh !== 'object') return undefined
    const { kid, iv, sender } = rh as Record<string, unknown>
    if (typeof kid !== 'string') return undefined
    if (iv !== undefined && typeof iv !== 'string') return undefined
    if (sender !== undefined && typeof sender !== 'string') return undefined
    recipients.push({ encrypted_key: encryptedKey, header: { kid, iv, sender } })
  }
  return { alg: h.alg, enc: h.enc, typ: typeof h.typ === 'string' ? h.typ : undefined, recipients }
}
