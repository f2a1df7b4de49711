import { z } from 'zod'

/**
 * What the relay can know about a DIDComm v1 envelope without decrypting it: the `alg` in the
 * protected header. Only an authcrypted envelope can carry a reply expectation (a reply has to be
 * packed to the sender's key, which anoncrypt hides).
 */
export type EnvelopeAlg = 'Authcrypt' | 'Anoncrypt'

const jweSchema = z.object({
  protected: z.string().min(1),
  iv: z.string(),
  ciphertext: z.string(),
  tag: z.string(),
})

const protectedHeaderSchema = z.object({
  alg: z.enum(['Authcrypt', 'Anoncrypt']),
  recipients: z.array(z.unknown()).min(1),
})

export type EnvelopeCheck = { ok: true; alg: EnvelopeAlg } | { ok: false; problem: string }

/** Checks that `text` is a DIDComm v1 JWE envelope and reads its algorithm. */
export function inspectEnvelope(text: string): EnvelopeCheck {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, problem: 'body is not JSON' }
  }
  const jwe = jweSchema.safeParse(json)
  if (!jwe.success) return { ok: false, problem: 'not a DIDComm envelope: expected protected, iv, ciphertext and tag' }
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(jwe.data.protected, 'base64url').toString('utf8'))
  } catch {
    return { ok: false, problem: 'envelope protected header is not base64url JSON' }
  }
  const parsed = protectedHeaderSchema.safeParse(header)
  if (!parsed.success) {
    return { ok: false, problem: 'envelope protected header needs alg Authcrypt or Anoncrypt and recipients' }
  }
  return { ok: true, alg: parsed.data.alg }
}
