import { Kms } from '@credo-ts/core'
import { sodium } from './sodium.js'

const PUBLIC_KEY_BYTES = 32

/**
 * An Ed25519 public key as the X25519 key DIDComm v1 envelopes are boxed with
 * (crypto_sign_ed25519_pk_to_curve25519). Credo's own conversion is pure JavaScript and costs about a
 * millisecond per key; this one a few microseconds. Unlike Credo's it rejects bytes that are not a
 * point of the curve, or one of small order: no box could be opened with such a key anyway.
 */
export function ed25519ToX25519PublicKey(ed25519: Uint8Array): Uint8Array {
  if (ed25519.length !== PUBLIC_KEY_BYTES) {
    throw new Kms.KeyManagementError(`An Ed25519 public key has ${PUBLIC_KEY_BYTES} bytes, not ${ed25519.length}`)
  }
  const x25519 = new Uint8Array(PUBLIC_KEY_BYTES)
  try {
    sodium.crypto_sign_ed25519_pk_to_curve25519(x25519, ed25519)
  } catch {
    throw new Kms.KeyManagementError('Not an Ed25519 public key: it has no X25519 form')
  }
  return x25519
}
