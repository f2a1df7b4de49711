import { describe, expect, it } from 'vitest'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { DidKey, Kms, TypedArrayEncoder } from '@credo-ts/core'
import { formatRecipientKey, isEncryptableEd25519Key, parseRecipientKey } from '../src/index.js'

function ed25519() {
  const { x } = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  const bytes = new Uint8Array(Buffer.from(x ?? '', 'base64url'))
  const jwk = Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: bytes })
  return { base58: TypedArrayEncoder.toBase58(bytes), did: new DidKey(jwk).did }
}

describe('recipient keys', () => {
  it('reads a did:key, with or without a fragment, as the base58 key', () => {
    const key = ed25519()
    expect(parseRecipientKey(key.did)).toEqual({ ok: true, base58: key.base58 })
    const fragment = key.did.slice('did:key:'.length)
    expect(parseRecipientKey(`${key.did}#${fragment}`)).toEqual({ ok: true, base58: key.base58 })
  })

  it('reads a raw base58 Ed25519 key as itself', () => {
    const key = ed25519()
    expect(parseRecipientKey(key.base58)).toEqual({ ok: true, base58: key.base58 })
  })

  it('refuses what is not an Ed25519 public key', () => {
    const x25519 = new DidKey(
      Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'X25519', publicKey: new Uint8Array(randomBytes(32)) }),
    ).did
    const cases = [
      'not a key',
      '',
      'did:key:zNotMultibase!',
      'did:key:z6Mk',
      x25519,
      TypedArrayEncoder.toBase58(new Uint8Array(randomBytes(16))),
      TypedArrayEncoder.toBase58(new Uint8Array(randomBytes(33))),
      '0OIl'.repeat(11),
    ]
    for (const input of cases) {
      const parsed = parseRecipientKey(input)
      expect(parsed.ok, input).toBe(false)
    }
    const parsed = parseRecipientKey(x25519)
    expect(parsed.ok === false && parsed.reason).toMatch(/Ed25519/)
  })

  it('writes a stored key back as did:key or base58', () => {
    const key = ed25519()
    expect(formatRecipientKey(key.base58, true)).toBe(key.did)
    expect(formatRecipientKey(key.base58, false)).toBe(key.base58)
  })

  it('tells a key that can be encrypted to from 32 bytes that are not a curve point', () => {
    expect(isEncryptableEd25519Key(ed25519().base58)).toBe(true)
    // y = 2 is not the y coordinate of any point on edwards25519.
    const notOnCurve = new Uint8Array(32)
    notOnCurve[0] = 2
    expect(isEncryptableEd25519Key(TypedArrayEncoder.toBase58(notOnCurve))).toBe(false)
  })
})
