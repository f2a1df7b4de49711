import { z } from 'zod'

/** What can be read of a DIDComm v1 envelope without decrypting it. */
export interface EnvelopeHeader {
  /** `Anoncrypt` (a forward from another agent) or `Authcrypt` (a wallet's own message to us). */
  readonly alg?: string
  /** The keys (base58) the envelope is encrypted to: ours, for anything a worker processes. */
  readonly recipientKids: readonly string[]
}

const envelopeSchema = z.object({ protected: z.string() })
const protectedSchema = z.object({
  alg: z.string().optional(),
  recipients: z.array(z.object({ header: z.object({ kid: z.string() }).partial().optional() })).optional(),
})

/** The protected header of an envelope as stored in an inbound job; undefined when it is not readable. */
export function readEnvelopeHeader(payload: string): EnvelopeHeader | undefined {
  try {
    const envelope = envelopeSchema.safeParse(JSON.parse(payload))
    if (!envelope.success) return undefined
    const header = protectedSchema.safeParse(JSON.parse(Buffer.from(envelope.data.protected, 'base64url').toString('utf8')))
    if (!header.success) return undefined
    const kids = (header.data.recipients ?? []).flatMap((r) => (r.header?.kid ? [r.header.kid] : []))
    return { ...(header.data.alg ? { alg: header.data.alg } : {}), recipientKids: kids }
  } catch {
    return undefined
  }
}
