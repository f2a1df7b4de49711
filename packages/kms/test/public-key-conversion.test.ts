import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Kms } from '@credo-ts/core'
import { ed25519ToX25519PublicKey } from '../src/index.js'
import { sodium } from '../src/sodium.js'

function ed25519PublicKey(): Uint8Array {
  const publicKey = new Uint8Array(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = new Uint8Array(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, randomBytes(32))
  return publicKey
}

describe('ed25519ToX25519PublicKey', () => {
  it('gives the X25519 key Credo computes, for any Ed25519 key', () => {
    for (let i = 0; i < 50; i++) {
      const publicKey = ed25519PublicKey()
      const credo = Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey }).convertTo(Kms.X25519PublicJwk)
      expect(Buffer.from(ed25519ToX25519PublicKey(publicKey))).toEqual(Buffer.from(credo.publicKey.publicKey))
    }
  })

  it('rejects what is not an Ed25519 public key with a key management error', () => {
    expect(() => ed25519ToX25519PublicKey(new Uint8Array(31))).toThrow(Kms.KeyManagementError)
    // The identity point has small order: it has no usable X25519 form.
    const identity = new Uint8Array(32)
    identity[0] = 1
    expect(() => ed25519ToX25519PublicKey(identity)).toThrow(Kms.KeyManagementError)
  })
})
