import { Kms, TypedArrayEncoder } from '@credo-ts/core'
import sodium from 'libsodium-wrappers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SodiumKeyManagementService } from '../src/index.js'
import { createCredoHarness } from './support/credo-agent.js'
import { contextFor, createKmsFixture, type KmsFixture } from './support/fixture.js'

let fixture: KmsFixture
let kms: SodiumKeyManagementService
const ctx = contextFor('ops-tenant')
const utf8 = (s: string) => new TextEncoder().encode(s)
const b64url = (b: Uint8Array) => TypedArrayEncoder.toBase64URL(b)
const x25519Jwk = (publicKey: Uint8Array) => ({ kty: 'OKP' as const, crv: 'X25519' as const, x: b64url(publicKey) })

beforeAll(async () => {
  await sodium.ready
  fixture = await createKmsFixture('kms_ops')
  kms = fixture.kms
})
afterAll(async () => {
  await fixture?.teardown()
})

describe('keys', () => {
  it('creates Ed25519 and X25519 keys with generated uuid key ids', async () => {
    const ed = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    expect(ed.keyId).toMatch(/^[0-9a-f-]{36}$/)
    expect(ed.publicJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: ed.keyId })
    expect(TypedArrayEncoder.fromBase64(ed.publicJwk.x)).toHaveLength(32)
    expect(await kms.getPublicKey(ctx, ed.keyId)).toEqual(ed.publicJwk)

    const x = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'X25519' } })
    expect(x.publicJwk).toMatchObject({ kty: 'OKP', crv: 'X25519', kid: x.keyId })
    expect(x.keyId).not.toBe(ed.keyId)
  })

  it('refuses a key id that is taken, with Credo’s KeyExists error', async () => {
    await kms.createKey(ctx, { keyId: 'fixed-id', type: { kty: 'OKP', crv: 'Ed25519' } })
    await expect(kms.createKey(ctx, { keyId: 'fixed-id', type: { kty: 'OKP', crv: 'Ed25519' } })).rejects.toThrow(
      Kms.KeyManagementKeyExistsError,
    )
  })

  it('imports an Ed25519 JWK and keeps its kid; rejects a JWK whose x does not match d', async () => {
    const pair = sodium.crypto_sign_keypair()
    const d = b64url(pair.privateKey.subarray(0, 32))
    const imported = await kms.importKey(ctx, {
      privateJwk: { kty: 'OKP', crv: 'Ed25519', d, x: b64url(pair.publicKey), kid: 'imported-1', use: 'sig' },
    })
    expect(imported.keyId).toBe('imported-1')
    expect(imported.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: b64url(pair.publicKey), kid: 'imported-1', use: 'sig' })
    expect(imported.publicJwk).not.toHaveProperty('d')

    const other = sodium.crypto_sign_keypair()
    await expect(
      kms.importKey(ctx, { privateJwk: { kty: 'OKP', crv: 'Ed25519', d, x: b64url(other.publicKey) } }),
    ).rejects.toThrow(/does not match/)
  })

  it('imports an X25519 JWK', async () => {
    const pair = sodium.crypto_box_keypair()
    const imported = await kms.importKey(ctx, {
      privateJwk: { kty: 'OKP', crv: 'X25519', d: b64url(pair.privateKey), x: b64url(pair.publicKey) },
    })
    expect(imported.publicJwk).toMatchObject({ crv: 'X25519', x: b64url(pair.publicKey) })
  })

  it('deletes a key: gone from cache and store, deleting again answers false', async () => {
    const { keyId } = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    expect(await kms.deleteKey(ctx, { keyId })).toBe(true)
    expect(await kms.getPublicKey(ctx, keyId)).toBeNull()
    await expect(kms.sign(ctx, { keyId, algorithm: 'EdDSA', data: utf8('x') })).rejects.toThrow(
      Kms.KeyManagementKeyNotFoundError,
    )
    expect(await kms.deleteKey(ctx, { keyId })).toBe(false)
  })

  it('randomBytes is synchronous and returns fresh bytes of the asked length', () => {
    const a = kms.randomBytes(ctx, { length: 32 })
    const b = kms.randomBytes(ctx, { length: 32 })
    expect(a).toBeInstanceOf(Uint8Array)
    expect(a).toHaveLength(32)
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
    expect(kms.randomBytes(ctx, { length: 7 })).toHaveLength(7)
  })
})

describe('EdDSA', () => {
  it('signs with a stored key; libsodium verifies; verify works by key id and by JWK', async () => {
    const { keyId, publicJwk } = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    const data = utf8('connection~sig payload')
    const { signature } = await kms.sign(ctx, { keyId, algorithm: 'EdDSA', data })
    expect(signature).toHaveLength(64)
    expect(sodium.crypto_sign_verify_detached(signature, data, TypedArrayEncoder.fromBase64(publicJwk.x))).toBe(true)

    expect(await kms.verify(ctx, { key: { keyId }, algorithm: 'EdDSA', data, signature })).toEqual({
      verified: true,
      publicJwk,
    })
    expect(await kms.verify(ctx, { key: { publicJwk }, algorithm: 'Ed25519', data, signature })).toMatchObject({
      verified: true,
    })
    const forged = Uint8Array.from(signature)
    forged[0] = (forged[0] as number) ^ 1
    expect(await kms.verify(ctx, { key: { publicJwk }, algorithm: 'EdDSA', data, signature: forged })).toEqual({
      verified: false,
    })
    expect(await kms.verify(ctx, { key: { keyId }, algorithm: 'EdDSA', data: utf8('other'), signature })).toEqual({
      verified: false,
    })
  })

  it('verifies a signature made by libsodium elsewhere', async () => {
    const pair = sodium.crypto_sign_keypair()
    const data = utf8('from a peer')
    const signature = sodium.crypto_sign_detached(data, pair.privateKey)
    const publicJwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: b64url(pair.publicKey) }
    expect(await kms.verify(ctx, { key: { publicJwk }, algorithm: 'EdDSA', data, signature })).toMatchObject({
      verified: true,
    })
  })

  it('refuses to sign with an X25519 key', async () => {
    const { keyId } = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'X25519' } })
    await expect(kms.sign(ctx, { keyId, algorithm: 'EdDSA', data: utf8('x') })).rejects.toThrow(
      Kms.KeyManagementAlgorithmNotSupportedError,
    )
  })
})

describe('ECDH-HSALSA20 + XSALSA20-POLY1305 on Ed25519 key ids (converted to X25519 by the KMS)', () => {
  it('sealed box (no sender key) to our key opens with our key id', async () => {
    const ours = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    const ourCurve = sodium.crypto_sign_ed25519_pk_to_curve25519(TypedArrayEncoder.fromBase64(ours.publicJwk.x))
    const data = utf8('content encryption key bytes....')

    // Sealed by the KMS (Credo's anonymous sender path) and by libsodium directly.
    const { encrypted, iv } = await kms.encrypt(ctx, {
      key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk: x25519Jwk(ourCurve) } },
      encryption: { algorithm: 'XSALSA20-POLY1305' },
      data,
    })
    expect(iv).toBeUndefined()
    for (const sealed of [encrypted, sodium.crypto_box_seal(data, ourCurve)]) {
      const { data: opened } = await kms.decrypt(ctx, {
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ours.keyId } },
        decryption: { algorithm: 'XSALSA20-POLY1305' },
        encrypted: sealed,
      })
      expect(opened).toEqual(data)
    }
  })

  it('crypto_box from our key to a peer: libsodium opens it, and the peer’s reply opens with ours', async () => {
    const ours = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    const ourCurve = sodium.crypto_sign_ed25519_pk_to_curve25519(TypedArrayEncoder.fromBase64(ours.publicJwk.x))
    const peer = sodium.crypto_box_keypair()
    const data = utf8('cek')

    const { encrypted, iv } = await kms.encrypt(ctx, {
      key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ours.keyId, externalPublicJwk: x25519Jwk(peer.publicKey) } },
      encryption: { algorithm: 'XSALSA20-POLY1305' },
      data,
    })
    expect(iv).toHaveLength(24)
    expect(sodium.crypto_box_open_easy(encrypted, iv as Uint8Array, ourCurve, peer.privateKey)).toEqual(data)

    const replyNonce = sodium.randombytes_buf(24)
    const reply = sodium.crypto_box_easy(utf8('reply'), replyNonce, ourCurve, peer.privateKey)
    const { data: opened } = await kms.decrypt(ctx, {
      key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ours.keyId, externalPublicJwk: x25519Jwk(peer.publicKey) } },
      decryption: { algorithm: 'XSALSA20-POLY1305', iv: replyNonce },
      encrypted: reply,
    })
    expect(opened).toEqual(utf8('reply'))

    const wrongPeer = sodium.crypto_box_keypair()
    await expect(
      kms.decrypt(ctx, {
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ours.keyId, externalPublicJwk: x25519Jwk(wrongPeer.publicKey) } },
        decryption: { algorithm: 'XSALSA20-POLY1305', iv: replyNonce },
        encrypted: reply,
      }),
    ).rejects.toThrow(Kms.KeyManagementError)
  })

  it('works on X25519 key ids too', async () => {
    const ours = await kms.createKey(ctx, { type: { kty: 'OKP', crv: 'X25519' } })
    const sealed = sodium.crypto_box_seal(utf8('hi'), TypedArrayEncoder.fromBase64(ours.publicJwk.x))
    const { data } = await kms.decrypt(ctx, {
      key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ours.keyId } },
      decryption: { algorithm: 'XSALSA20-POLY1305' },
      encrypted: sealed,
    })
    expect(data).toEqual(utf8('hi'))
  })
})

describe('C20P (ChaCha20-Poly1305 IETF, detached tag) with an inline key', () => {
  it('encrypts with a 12-byte iv and 16-byte tag that libsodium decrypts, and decrypts libsodium output', async () => {
    const cek = sodium.crypto_aead_chacha20poly1305_ietf_keygen()
    const aad = utf8('eyJwcm90ZWN0ZWQiOiJoZWFkZXIifQ')
    const data = utf8('{"@type":"x"}')
    const key = { privateJwk: { kty: 'oct' as const, k: b64url(cek) } }

    const { encrypted, iv, tag } = await kms.encrypt(ctx, { key, encryption: { algorithm: 'C20P', aad }, data })
    expect(iv).toHaveLength(12)
    expect(tag).toHaveLength(16)
    expect(encrypted).toHaveLength(data.length)
    expect(
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(null, encrypted, tag as Uint8Array, aad, iv as Uint8Array, cek),
    ).toEqual(data)

    const nonce = sodium.randombytes_buf(12)
    const theirs = sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(data, aad, null, nonce, cek)
    const { data: opened } = await kms.decrypt(ctx, {
      key,
      decryption: { algorithm: 'C20P', iv: nonce, tag: theirs.mac, aad },
      encrypted: theirs.ciphertext,
    })
    expect(opened).toEqual(data)

    await expect(
      kms.decrypt(ctx, {
        key,
        decryption: { algorithm: 'C20P', iv: nonce, tag: theirs.mac, aad: utf8('other header') },
        encrypted: theirs.ciphertext,
      }),
    ).rejects.toThrow(Kms.KeyManagementError)
  })
})

describe('unsupported operations', () => {
  const unsupported: Kms.KmsOperation[] = [
    { operation: 'createKey', type: { kty: 'EC', crv: 'P-256' } },
    { operation: 'createKey', type: { kty: 'RSA', modulusLength: 2048 } },
    { operation: 'createKey', type: { kty: 'oct', algorithm: 'C20P' } },
    { operation: 'importKey', privateJwk: { kty: 'oct', k: 'AAAA' } },
    { operation: 'sign', algorithm: 'ES256' },
    { operation: 'verify', algorithm: 'RS256' },
    { operation: 'encrypt', encryption: { algorithm: 'A256GCM' } },
    { operation: 'decrypt', decryption: { algorithm: 'XC20P', iv: new Uint8Array(24), tag: new Uint8Array(16) } },
  ]
  it.each(unsupported.map((op) => [JSON.stringify(op), op] as const))('isOperationSupported is false: %s', (_, op) => {
    expect(kms.isOperationSupported(ctx, op)).toBe(false)
  })

  it('answers true for what DIDComm v1 needs', () => {
    const supported: Kms.KmsOperation[] = [
      { operation: 'createKey', type: { kty: 'OKP', crv: 'Ed25519' } },
      { operation: 'sign', algorithm: 'EdDSA' },
      { operation: 'verify', algorithm: 'EdDSA' },
      { operation: 'randomBytes' },
      { operation: 'deleteKey' },
      { operation: 'encrypt', encryption: { algorithm: 'C20P' } },
      {
        operation: 'encrypt',
        encryption: { algorithm: 'XSALSA20-POLY1305' },
        keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk: { kty: 'OKP', crv: 'X25519', x: 'AA' } },
      },
    ]
    for (const op of supported) expect(kms.isOperationSupported(ctx, op)).toBe(true)
  })

  it('Credo reports an unsupported request clearly, and a direct call throws AlgorithmNotSupported', async () => {
    const { agent } = createCredoHarness(kms)
    await expect(agent.kms.createKey({ type: { kty: 'EC', crv: 'P-256' } })).rejects.toThrow(
      /No key management service backend found that supports/,
    )
    await expect(kms.createKey(ctx, { type: { kty: 'EC', crv: 'P-256' } })).rejects.toThrow(
      Kms.KeyManagementAlgorithmNotSupportedError,
    )
    await expect(
      kms.encrypt(ctx, {
        key: { privateJwk: { kty: 'oct', k: b64url(new Uint8Array(32)) } },
        encryption: { algorithm: 'A256GCM' },
        data: utf8('x'),
      }),
    ).rejects.toThrow(Kms.KeyManagementAlgorithmNotSupportedError)
  })

  it('Credo signs and verifies through its KeyManagementApi with this backend', async () => {
    const { agent } = createCredoHarness(kms)
    const key = await agent.kms.createKey({ type: { kty: 'OKP', crv: 'Ed25519' } })
    const data = utf8('through the api')
    const { signature } = await agent.kms.sign({ keyId: key.keyId, algorithm: 'EdDSA', data })
    expect(await agent.kms.verify({ key: { keyId: key.keyId }, algorithm: 'EdDSA', data, signature })).toMatchObject({
      verified: true,
    })
  })
})
