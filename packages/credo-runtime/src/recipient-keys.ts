import { DidKey, Kms, TypedArrayEncoder, verkeyToDidKey } from '@credo-ts/core'

export type ParsedRecipientKey = { ok: true; base58: string } | { ok: false; reason: string }

const base58Alphabet = /^[1-9A-HJ-NP-Za-km-z]+$/
// An Ed25519 public key is 32 bytes: at most 44 base58 digits. Anything longer is not worth decoding.
const maxBase58Length = 44

/**
 * Reads a recipient key as wallets send it in keylist updates and forwards: a `did:key` (with or
 * without a `#fragment`) or a raw base58 Ed25519 public key. The result is the canonical base58 form,
 * which is what Credo stores in the mediation record's `recipientKeys` tag and looks forwards up by.
 */
export function parseRecipientKey(input: string): ParsedRecipientKey {
  if (input.startsWith('did:key:')) {
    const did = input.split('#', 1)[0] ?? input
    let publicJwk: Kms.PublicJwk
    try {
      publicJwk = DidKey.fromDid(did).publicJwk
    } catch {
      return { ok: false, reason: 'not a valid did:key' }
    }
    if (!publicJwk.is(Kms.Ed25519PublicJwk)) {
      return { ok: false, reason: `did:key is ${publicJwk.jwkTypeHumanDescription}, expected an Ed25519 key` }
    }
    return { ok: true, base58: TypedArrayEncoder.toBase58(publicJwk.publicKey.publicKey) }
  }
  if (input.length > maxBase58Length || !base58Alphabet.test(input)) {
    return { ok: false, reason: 'neither a did:key nor a base58 Ed25519 public key' }
  }
  const bytes = TypedArrayEncoder.fromBase58(input)
  if (bytes.length !== 32) return { ok: false, reason: `base58 key decodes to ${bytes.length} bytes, expected 32` }
  // Re-encoding gives the one canonical spelling, so equal keys compare equal as strings.
  return { ok: true, base58: TypedArrayEncoder.toBase58(bytes) }
}

/**
 * Whether anything can be encrypted to this key: DIDComm v1 converts the recipient's Ed25519 key to
 * X25519, which fails for 32 bytes that are not a point on the curve. Registering such a key would
 * only queue messages nobody can have packed.
 */
export function isEncryptableEd25519Key(base58: string): boolean {
  try {
    Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(base58) }).convertTo(
      Kms.X25519PublicJwk,
    )
    return true
  } catch {
    return false
  }
}

/** How a stored (base58) recipient key is written back to a wallet. */
export function formatRecipientKey(base58: string, useDidKey: boolean): string {
  return useDidKey ? verkeyToDidKey(base58) : base58
}
