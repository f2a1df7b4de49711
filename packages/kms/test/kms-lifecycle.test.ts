import { Kms, TypedArrayEncoder } from '@credo-ts/core'
import { ConfigError } from '@mediator/config'
import { createTestSchema } from '@mediator/test-support'
import sodium from 'libsodium-wrappers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  KeyDecryptionError,
  KeyManagementClosedError,
  loadMasterKey,
  MasterKeyMismatchError,
  SodiumKeyManagementService,
} from '../src/index.js'
import { contextFor, createKmsFixture, randomMasterKey, type KmsFixture } from './support/fixture.js'

const utf8 = (s: string) => new TextEncoder().encode(s)
let fixture: KmsFixture

beforeAll(async () => {
  await sodium.ready
})
afterEach(async () => {
  await fixture?.teardown()
})

describe('persistence', () => {
  it('a new instance on the same schema (another worker, or a restart) uses keys made by the first', async () => {
    fixture = await createKmsFixture('kms_persist')
    const ctx = contextFor('tenant-p')
    const first = fixture.kms
    const ed = await first.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    const ourCurve = sodium.crypto_sign_ed25519_pk_to_curve25519(TypedArrayEncoder.fromBase64(ed.publicJwk.x))
    first.close()

    const second = await fixture.openAnother()
    expect(await second.getPublicKey(ctx, ed.keyId)).toEqual(ed.publicJwk)
    const data = utf8('after restart')
    const { signature } = await second.sign(ctx, { keyId: ed.keyId, algorithm: 'EdDSA', data })
    expect(sodium.crypto_sign_verify_detached(signature, data, TypedArrayEncoder.fromBase64(ed.publicJwk.x))).toBe(true)
    const { data: opened } = await second.decrypt(ctx, {
      key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ed.keyId } },
      decryption: { algorithm: 'XSALSA20-POLY1305' },
      encrypted: sodium.crypto_box_seal(data, ourCurve),
    })
    expect(opened).toEqual(data)
  })

  it('stores private keys sealed: the row holds no plaintext seed, and a row moved to another key id does not open', async () => {
    fixture = await createKmsFixture('kms_sealed')
    const ctx = contextFor('tenant-s')
    const pair = sodium.crypto_sign_keypair()
    const seed = pair.privateKey.subarray(0, 32)
    await fixture.kms.importKey(ctx, {
      privateJwk: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: TypedArrayEncoder.toBase64URL(seed),
        x: TypedArrayEncoder.toBase64URL(pair.publicKey),
        kid: 'victim',
      },
    })
    const { rows } = await fixture.schema.pool.query<{ sealed_secret: Buffer }>(
      "SELECT sealed_secret FROM kms_keys WHERE key_id = 'victim'",
    )
    const sealed = rows[0]?.sealed_secret as Buffer
    expect(sealed.includes(Buffer.from(seed))).toBe(false)

    // Copy the sealed secret onto another key id in the same tenant: the AEAD binding refuses it.
    await fixture.schema.pool.query(
      "INSERT INTO kms_keys (context_correlation_id, key_id, curve, public_jwk, sealed_secret) SELECT context_correlation_id, 'thief', curve, public_jwk, sealed_secret FROM kms_keys WHERE key_id = 'victim'",
    )
    await expect(fixture.kms.getPublicKey(ctx, 'thief')).rejects.toThrow(KeyDecryptionError)
  })
})

describe('master key', () => {
  it('a wrong master key stops start-up with a clear error naming KMS_MASTER_KEY', async () => {
    fixture = await createKmsFixture('kms_wrongkey')
    await fixture.kms.createKey(contextFor('t'), { type: { kty: 'OKP', crv: 'Ed25519' } })
    const attempt = fixture.openAnother({ masterKey: randomMasterKey() })
    await expect(attempt).rejects.toThrow(MasterKeyMismatchError)
    await expect(attempt).rejects.toThrow(/KMS_MASTER_KEY does not match/)
  })

  it('without its check row, a schema holding keys still refuses the wrong key (and accepts the right one)', async () => {
    fixture = await createKmsFixture('kms_nocheck')
    await fixture.kms.createKey(contextFor('t'), { type: { kty: 'OKP', crv: 'Ed25519' } })
    await fixture.schema.pool.query('DELETE FROM kms_master_key_check')
    await expect(fixture.openAnother({ masterKey: randomMasterKey() })).rejects.toThrow(MasterKeyMismatchError)
    await expect(fixture.openAnother()).resolves.toBeInstanceOf(SodiumKeyManagementService)
    const { rowCount } = await fixture.schema.pool.query('SELECT 1 FROM kms_master_key_check')
    expect(rowCount).toBe(1)
  })

  it('loadMasterKey reads 32 bytes as hex, base64 or base64url', () => {
    const raw = randomMasterKey()
    const hex = Buffer.from(raw).toString('hex')
    for (const text of [hex, hex.toUpperCase(), Buffer.from(raw).toString('base64'), Buffer.from(raw).toString('base64url')]) {
      expect(Buffer.from(loadMasterKey({ KMS_MASTER_KEY: text })).equals(Buffer.from(raw))).toBe(true)
    }
  })

  it.each([
    ['missing', {}],
    ['empty', { KMS_MASTER_KEY: '' }],
    ['short (16 bytes)', { KMS_MASTER_KEY: Buffer.alloc(16, 1).toString('base64') }],
    ['long (33 bytes)', { KMS_MASTER_KEY: Buffer.alloc(33, 1).toString('hex') }],
    ['not base64', { KMS_MASTER_KEY: '!'.repeat(44) }],
  ])('loadMasterKey rejects a %s key with a ConfigError naming the variable', (_, env) => {
    expect(() => loadMasterKey(env)).toThrow(ConfigError)
    expect(() => loadMasterKey(env)).toThrow(/KMS_MASTER_KEY/)
  })

  it('rejects a master key that is not 32 bytes passed in code', async () => {
    const schema = await createTestSchema('kms_badlen')
    try {
      await expect(SodiumKeyManagementService.create({ pool: schema.pool, masterKey: new Uint8Array(16) })).rejects.toThrow(
        /32 bytes/,
      )
    } finally {
      await schema.drop()
    }
  })
})

describe('tenants', () => {
  it('keys are scoped by contextCorrelationId: invisible and unusable from another context', async () => {
    fixture = await createKmsFixture('kms_tenants')
    const a = contextFor('tenant-a')
    const b = contextFor('tenant-b')
    const key = await fixture.kms.createKey(a, { keyId: 'shared-name', type: { kty: 'OKP', crv: 'Ed25519' } })

    expect(await fixture.kms.getPublicKey(b, key.keyId)).toBeNull()
    await expect(fixture.kms.sign(b, { keyId: key.keyId, algorithm: 'EdDSA', data: utf8('x') })).rejects.toThrow(
      Kms.KeyManagementKeyNotFoundError,
    )
    expect(await fixture.kms.deleteKey(b, { keyId: key.keyId })).toBe(false)

    // The same key id can exist in both tenants, as two different keys.
    const other = await fixture.kms.createKey(b, { keyId: 'shared-name', type: { kty: 'OKP', crv: 'Ed25519' } })
    expect(other.publicJwk.x).not.toBe(key.publicJwk.x)
    expect(await fixture.kms.getPublicKey(a, 'shared-name')).toMatchObject({ x: key.publicJwk.x })
  })
})

describe('start-up', () => {
  it('several workers starting at once on a fresh schema all come up, with one key check', async () => {
    fixture = await createKmsFixture('kms_concurrent')
    // Start from an empty schema again so the race is on table creation itself.
    fixture.kms.close()
    await fixture.schema.pool.query('DROP TABLE kms_keys, kms_master_key_check')
    const instances = await Promise.all(Array.from({ length: 6 }, () => fixture.openAnother()))
    expect(instances).toHaveLength(6)
    const { rowCount } = await fixture.schema.pool.query('SELECT 1 FROM kms_master_key_check')
    expect(rowCount).toBe(1)
    const ctx = contextFor('t')
    const key = await instances[0]!.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    expect(await instances[5]!.getPublicKey(ctx, key.keyId)).toEqual(key.publicJwk)
  })

  it('racing first starts with different master keys: exactly one key wins the schema', async () => {
    fixture = await createKmsFixture('kms_race')
    fixture.kms.close()
    await fixture.schema.pool.query('DROP TABLE kms_keys, kms_master_key_check')
    const results = await Promise.allSettled([fixture.openAnother(), fixture.openAnother({ masterKey: randomMasterKey() })])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const rejected = results.find((r) => r.status === 'rejected')
    expect(rejected?.status === 'rejected' && rejected.reason).toBeInstanceOf(MasterKeyMismatchError)
  })

  it('after close() every operation throws instead of using wiped keys', async () => {
    fixture = await createKmsFixture('kms_closed')
    const ctx = contextFor('t')
    const key = await fixture.kms.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    fixture.kms.close()
    await expect(fixture.kms.sign(ctx, { keyId: key.keyId, algorithm: 'EdDSA', data: utf8('x') })).rejects.toThrow(
      KeyManagementClosedError,
    )
    await expect(fixture.kms.getPublicKey(ctx, key.keyId)).rejects.toThrow(KeyManagementClosedError)
  })
})

describe('cache', () => {
  it('stays within its bound and reloads evicted keys from Postgres', async () => {
    fixture = await createKmsFixture('kms_cache')
    const small = await fixture.openAnother({ cache: { maxEntries: 2 } })
    const ctx = contextFor('t')
    const keys = []
    for (let i = 0; i < 5; i++) keys.push(await small.createKey(ctx, { type: { kty: 'OKP', crv: 'Ed25519' } }))
    expect(small.cachedKeyCount).toBe(2)
    for (const key of keys) expect(await small.getPublicKey(ctx, key.keyId)).toEqual(key.publicJwk)
    expect(small.cachedKeyCount).toBe(2)
  })
})

afterAll(async () => {
  await fixture?.teardown()
})
