import { randomUUID } from 'node:crypto'
import { Kms, type AgentContext } from '@credo-ts/core'
import type { Logger } from '@mediator/config'
import { fromBase64Url } from './encoding.js'
import { KeyManagementClosedError } from './errors.js'
import { KeyCache, type KeyCacheOptions } from './key-cache.js'
import {
  deriveKeyMaterial,
  generateSecret,
  okpBytes,
  type KeyMaterial,
  type OkpCurve,
} from './key-material.js'
import { KeyIdTakenError, PostgresKeyStore, type PostgresKeyStoreOptions } from './key-store.js'
import { sodium } from './sodium.js'

export interface SodiumKeyManagementServiceOptions {
  /** Name Credo knows this backend by (`backend` option of KMS calls). Default `sodium`. */
  readonly backend?: string
  /** In-memory key cache; defaults: 10 000 keys, 10 minutes. */
  readonly cache?: Partial<KeyCacheOptions>
  readonly logger?: Logger
}

export const DEFAULT_BACKEND = 'sodium'
const DEFAULT_CACHE: KeyCacheOptions = { maxEntries: 10_000, ttlMs: 10 * 60_000 }

const C20P_KEY_BYTES = 32
const C20P_NONCE_BYTES = 12
const C20P_TAG_BYTES = 16

type Curve = OkpCurve

/**
 * Credo 0.6.3 key management on libsodium (sodium-native): Ed25519 / X25519 keys, EdDSA,
 * DIDComm v1 key agreement (`ECDH-HSALSA20` + `XSALSA20-POLY1305`, i.e. crypto_box and sealed
 * boxes) and `C20P` content encryption. Private keys live sealed in Postgres (see
 * PostgresKeyStore) and, once used, in a bounded in-memory cache. Everything else is reported
 * unsupported by `isOperationSupported`, so Credo can say so (or pick another backend).
 */
export class SodiumKeyManagementService implements Kms.KeyManagementService {
  public readonly backend: string
  private readonly cache: KeyCache
  private readonly loading = new Map<string, Promise<KeyMaterial | null>>()
  private readonly logger: Logger | undefined
  private closed = false

  /** Use `create()`, or pass a store you opened yourself (it must stay open while this is used). */
  public constructor(
    public readonly store: PostgresKeyStore,
    options: SodiumKeyManagementServiceOptions = {},
  ) {
    this.backend = options.backend ?? DEFAULT_BACKEND
    this.logger = options.logger
    this.cache = new KeyCache({ ...DEFAULT_CACHE, ...options.cache })
  }

  /**
   * Opens the key store (creates the tables under an advisory lock and checks the master key) and
   * returns a ready service. Rejects with `MasterKeyMismatchError` for the wrong master key.
   */
  public static async create(
    options: PostgresKeyStoreOptions & SodiumKeyManagementServiceOptions,
  ): Promise<SodiumKeyManagementService> {
    const store = await PostgresKeyStore.open(options)
    return new SodiumKeyManagementService(store, options)
  }

  /** Wipes cached keys and the master key copy; later calls throw. Does not end the pool. */
  public close(): void {
    if (this.closed) return
    this.closed = true
    this.cache.clear()
    this.store.close()
  }

  /** Keys currently held in memory (for metrics and tests). */
  public get cachedKeyCount(): number {
    return this.cache.size
  }

  public isOperationSupported(_agentContext: AgentContext, operation: Kms.KmsOperation): boolean {
    switch (operation.operation) {
      case 'createKey':
        return operation.type.kty === 'OKP' && isOkpCurve(operation.type.crv)
      case 'importKey':
        return operation.privateJwk.kty === 'OKP' && isOkpCurve(operation.privateJwk.crv)
      case 'deleteKey':
      case 'randomBytes':
        return true
      case 'sign':
      case 'verify':
        return operation.algorithm === 'EdDSA' || operation.algorithm === 'Ed25519'
      case 'encrypt':
        return operation.keyAgreement
          ? operation.keyAgreement.algorithm === 'ECDH-HSALSA20' && operation.encryption.algorithm === 'XSALSA20-POLY1305'
          : operation.encryption.algorithm === 'C20P'
      case 'decrypt':
        return operation.keyAgreement
          ? operation.keyAgreement.algorithm === 'ECDH-HSALSA20' && operation.decryption.algorithm === 'XSALSA20-POLY1305'
          : operation.decryption.algorithm === 'C20P'
      default:
        return false
    }
  }

  public async getPublicKey(agentContext: AgentContext, keyId: string): Promise<Kms.KmsJwkPublic | null> {
    const key = await this.findKey(agentContext, keyId)
    return key ? { ...key.publicJwk } : null
  }

  public async createKey<Type extends Kms.KmsCreateKeyType>(
    agentContext: AgentContext,
    options: Kms.KmsCreateKeyOptions<Type>,
  ): Promise<Kms.KmsCreateKeyReturn<Type>> {
    const type: Kms.KmsCreateKeyType = options.type
    if (type.kty !== 'OKP' || !isOkpCurve(type.crv)) {
      throw new Kms.KeyManagementAlgorithmNotSupportedError(`creating ${describeType(type)} keys`, this.backend)
    }
    const keyId = options.keyId ?? randomUUID()
    const secret = generateSecret()
    try {
      const key = deriveKeyMaterial(keyId, type.crv, secret)
      await this.persist(agentContext, key, secret)
      // The return type is keyed on the requested type; for OKP it is exactly our public JWK.
      return { keyId, publicJwk: { ...key.publicJwk } } as unknown as Kms.KmsCreateKeyReturn<Type>
    } finally {
      sodium.sodium_memzero(secret)
    }
  }

  public async importKey<Jwk extends Kms.KmsJwkPrivate>(
    agentContext: AgentContext,
    options: Kms.KmsImportKeyOptions<Jwk>,
  ): Promise<Kms.KmsImportKeyReturn<Jwk>> {
    const jwk: Kms.KmsJwkPrivate = options.privateJwk
    if (jwk.kty !== 'OKP' || !isOkpCurve(jwk.crv)) {
      throw new Kms.KeyManagementAlgorithmNotSupportedError(`importing ${describeType(jwk)} keys`, this.backend)
    }
    const secret = okpBytes(jwk.d)
    const publicKey = okpBytes(jwk.x)
    if (!secret || !publicKey) {
      throw new Kms.KeyManagementError(`Invalid ${jwk.crv} JWK: 'd' and 'x' must be 32 bytes of base64url`)
    }
    const keyId = jwk.kid ?? randomUUID()
    try {
      const key = deriveKeyMaterial(keyId, jwk.crv, secret, jwk, publicKey)
      await this.persist(agentContext, key, secret)
      // For OKP imports the declared return type is the public half of the JWK, which this is.
      return { keyId, publicJwk: { ...key.publicJwk } } as unknown as Kms.KmsImportKeyReturn<Jwk>
    } finally {
      sodium.sodium_memzero(secret)
    }
  }

  public async deleteKey(agentContext: AgentContext, options: Kms.KmsDeleteKeyOptions): Promise<boolean> {
    this.assertOpen()
    const cacheKey = KeyCache.cacheKey(agentContext.contextCorrelationId, options.keyId)
    this.cache.delete(cacheKey)
    const deleted = await this.store.delete(agentContext.contextCorrelationId, options.keyId)
    // A load that started before the delete could re-cache the key; drop it again.
    this.cache.delete(cacheKey)
    return deleted
  }

  public async sign(agentContext: AgentContext, options: Kms.KmsSignOptions): Promise<Kms.KmsSignReturn> {
    this.assertSignatureAlgorithm(options.algorithm)
    const key = await this.requireKey(agentContext, options.keyId)
    this.assertOpen()
    if (!key.signSecretKey) {
      throw new Kms.KeyManagementAlgorithmNotSupportedError(`signing with ${key.curve} key '${key.keyId}'`, this.backend)
    }
    Kms.assertKeyAllowsSign(key.publicJwk)
    const signature = new Uint8Array(sodium.crypto_sign_BYTES)
    sodium.crypto_sign_detached(signature, options.data, key.signSecretKey)
    return { signature }
  }

  public async verify(agentContext: AgentContext, options: Kms.KmsVerifyOptions): Promise<Kms.KmsVerifyReturn> {
    this.assertSignatureAlgorithm(options.algorithm)
    let publicJwk: Kms.KmsJwkPublic
    let publicKey: Uint8Array | null
    if (options.key.keyId !== undefined) {
      const key = await this.requireKey(agentContext, options.key.keyId)
      publicJwk = { ...key.publicJwk }
      publicKey = key.signPublicKey
    } else {
      const jwk = options.key.publicJwk
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') {
        throw new Kms.KeyManagementAlgorithmNotSupportedError(`verifying with ${describeType(jwk)} keys`, this.backend)
      }
      const { d: _d, ...withoutPrivate } = jwk
      publicJwk = withoutPrivate
      publicKey = okpBytes(jwk.x)
      if (!publicKey) throw new Kms.KeyManagementError("Invalid Ed25519 JWK: 'x' must be 32 bytes of base64url")
    }
    if (!publicKey) {
      throw new Kms.KeyManagementAlgorithmNotSupportedError(`verifying with ${publicJwk.kty} key '${publicJwk.kid}'`, this.backend)
    }
    Kms.assertKeyAllowsVerify(publicJwk)
    if (options.signature.length !== sodium.crypto_sign_BYTES) return { verified: false }
    return sodium.crypto_sign_verify_detached(options.signature, options.data, publicKey)
      ? { verified: true, publicJwk }
      : { verified: false }
  }

  public async encrypt(agentContext: AgentContext, options: Kms.KmsEncryptOptions): Promise<Kms.KmsEncryptReturn> {
    const { key, encryption, data } = options
    if (key.keyAgreement) {
      const agreement = key.keyAgreement
      if (agreement.algorithm !== 'ECDH-HSALSA20' || encryption.algorithm !== 'XSALSA20-POLY1305') {
        throw new Kms.KeyManagementAlgorithmNotSupportedError(
          `key agreement '${agreement.algorithm}' with encryption '${encryption.algorithm}'`,
          this.backend,
        )
      }
      const recipientPublicKey = x25519PublicKey(agreement.externalPublicJwk)
      if (agreement.keyId === undefined) {
        // Anonymous sender: a sealed box, which carries its own ephemeral key and nonce.
        const encrypted = new Uint8Array(data.length + sodium.crypto_box_SEALBYTES)
        sodium.crypto_box_seal(encrypted, data, recipientPublicKey)
        return { encrypted }
      }
      const senderLookup = this.requireKey(agentContext, agreement.keyId)
      const sender = senderLookup instanceof Promise ? await senderLookup : senderLookup
      this.assertOpen()
      const iv = encryption.iv ?? randomBytes(sodium.crypto_box_NONCEBYTES)
      if (iv.length !== sodium.crypto_box_NONCEBYTES) throw new Kms.KeyManagementError('XSALSA20-POLY1305 iv must be 24 bytes')
      const encrypted = new Uint8Array(data.length + sodium.crypto_box_MACBYTES)
      sodium.crypto_box_easy(encrypted, data, iv, recipientPublicKey, sender.boxSecretKey)
      return { encrypted, iv }
    }
    if (encryption.algorithm !== 'C20P') {
      throw new Kms.KeyManagementAlgorithmNotSupportedError(`encryption '${encryption.algorithm}'`, this.backend)
    }
    const contentKey = key.privateJwk ? inlineContentKey(key.privateJwk) : await this.symmetricKey(agentContext, key)
    const iv = encryption.iv ?? randomBytes(C20P_NONCE_BYTES)
    if (iv.length !== C20P_NONCE_BYTES) throw new Kms.KeyManagementError('C20P iv must be 12 bytes')
    const encrypted = new Uint8Array(data.length)
    const tag = new Uint8Array(C20P_TAG_BYTES)
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(encrypted, tag, data, encryption.aad ?? null, null, iv, contentKey)
    return { encrypted, iv, tag }
  }

  public async decrypt(agentContext: AgentContext, options: Kms.KmsDecryptOptions): Promise<Kms.KmsDecryptReturn> {
    const { key, decryption, encrypted } = options
    if (key.keyAgreement) {
      const agreement = key.keyAgreement
      if (agreement.algorithm !== 'ECDH-HSALSA20' || decryption.algorithm !== 'XSALSA20-POLY1305') {
        throw new Kms.KeyManagementAlgorithmNotSupportedError(
          `key agreement '${agreement.algorithm}' with decryption '${decryption.algorithm}'`,
          this.backend,
        )
      }
      const recipientLookup = this.requireKey(agentContext, agreement.keyId)
      const recipient = recipientLookup instanceof Promise ? await recipientLookup : recipientLookup
      this.assertOpen()
      if (agreement.externalPublicJwk === undefined) {
        if (encrypted.length < sodium.crypto_box_SEALBYTES) throw decryptionFailed()
        const data = new Uint8Array(encrypted.length - sodium.crypto_box_SEALBYTES)
        if (!sodium.crypto_box_seal_open(data, encrypted, recipient.boxPublicKey, recipient.boxSecretKey)) {
          throw decryptionFailed()
        }
        return { data }
      }
      const senderPublicKey = x25519PublicKey(agreement.externalPublicJwk)
      const iv = decryption.iv
      if (!iv || iv.length !== sodium.crypto_box_NONCEBYTES) {
        throw new Kms.KeyManagementError('XSALSA20-POLY1305 decryption with a sender key needs a 24-byte iv')
      }
      if (encrypted.length < sodium.crypto_box_MACBYTES) throw decryptionFailed()
      const data = new Uint8Array(encrypted.length - sodium.crypto_box_MACBYTES)
      if (!sodium.crypto_box_open_easy(data, encrypted, iv, senderPublicKey, recipient.boxSecretKey)) {
        throw decryptionFailed()
      }
      return { data }
    }
    if (decryption.algorithm !== 'C20P') {
      throw new Kms.KeyManagementAlgorithmNotSupportedError(`decryption '${decryption.algorithm}'`, this.backend)
    }
    const contentKey = key.privateJwk ? inlineContentKey(key.privateJwk) : await this.symmetricKey(agentContext, key)
    if (decryption.iv.length !== C20P_NONCE_BYTES) throw new Kms.KeyManagementError('C20P iv must be 12 bytes')
    if (decryption.tag.length !== C20P_TAG_BYTES) throw new Kms.KeyManagementError('C20P tag must be 16 bytes')
    const data = new Uint8Array(encrypted.length)
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        data,
        null,
        encrypted,
        decryption.tag,
        decryption.aad ?? null,
        decryption.iv,
        contentKey,
      )
    } catch {
      throw decryptionFailed()
    }
    return { data }
  }

  public randomBytes(_agentContext: AgentContext, options: Kms.KmsRandomBytesOptions): Kms.KmsRandomBytesReturn {
    return randomBytes(options.length)
  }

  /** The key for the context, from the cache or the store; concurrent misses share one load. */
  private async findKey(agentContext: AgentContext, keyId: string): Promise<KeyMaterial | null> {
    this.assertOpen()
    const cacheKey = KeyCache.cacheKey(agentContext.contextCorrelationId, keyId)
    const cached = this.cache.get(cacheKey)
    if (cached) return cached
    let pending = this.loading.get(cacheKey)
    if (!pending) {
      pending = this.store.load(agentContext.contextCorrelationId, keyId).finally(() => this.loading.delete(cacheKey))
      this.loading.set(cacheKey, pending)
    }
    const key = await pending
    if (key && !this.closed) this.cache.set(cacheKey, key)
    return key
  }

  /**
   * Cache hits resolve without an extra async hop: on the DIDComm hot path every key is cached,
   * and each avoided promise is measurable next to a 30 us crypto_box.
   */
  private requireKey(agentContext: AgentContext, keyId: string): KeyMaterial | Promise<KeyMaterial> {
    this.assertOpen()
    const cached = this.cache.get(KeyCache.cacheKey(agentContext.contextCorrelationId, keyId))
    return cached ?? this.loadRequiredKey(agentContext, keyId)
  }

  private async loadRequiredKey(agentContext: AgentContext, keyId: string): Promise<KeyMaterial> {
    const key = await this.findKey(agentContext, keyId)
    if (!key) throw new Kms.KeyManagementKeyNotFoundError(keyId, [this.backend])
    return key
  }

  private async persist(agentContext: AgentContext, key: KeyMaterial, secret: Uint8Array): Promise<void> {
    this.assertOpen()
    try {
      await this.store.insert(agentContext.contextCorrelationId, key.keyId, key.curve, key.publicJwk, secret)
    } catch (error) {
      if (error instanceof KeyIdTakenError) throw new Kms.KeyManagementKeyExistsError(key.keyId, this.backend)
      throw error
    }
    if (!this.closed) this.cache.set(KeyCache.cacheKey(agentContext.contextCorrelationId, key.keyId), key)
    this.logger?.debug({ keyId: key.keyId, contextCorrelationId: agentContext.contextCorrelationId, crv: key.curve }, 'kms: key stored')
  }

  /** C20P content keys arrive inline (DIDComm v1); this backend keeps no symmetric keys. */
  private async symmetricKey(
    agentContext: AgentContext,
    key: { keyId?: string; privateJwk?: { kty: 'oct'; k: string } },
  ): Promise<never> {
    if (key.keyId === undefined) throw new Kms.KeyManagementError('No key given for C20P')
    const stored = await this.requireKey(agentContext, key.keyId)
    throw new Kms.KeyManagementAlgorithmNotSupportedError(`C20P with ${stored.curve} key '${stored.keyId}'`, this.backend)
  }

  private assertSignatureAlgorithm(algorithm: Kms.KnownJwaSignatureAlgorithm): void {
    if (algorithm !== 'EdDSA' && algorithm !== 'Ed25519') {
      throw new Kms.KeyManagementAlgorithmNotSupportedError(`signature algorithm '${algorithm}'`, this.backend)
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new KeyManagementClosedError()
  }
}

function isOkpCurve(crv: string): crv is Curve {
  return crv === 'Ed25519' || crv === 'X25519'
}

function describeType(type: { kty: string; crv?: string; algorithm?: string }): string {
  return [type.kty, type.crv ?? type.algorithm].filter(Boolean).join(' ')
}

function x25519PublicKey(jwk: { kty: string; crv: string; x: string }): Uint8Array {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'X25519') {
    throw new Kms.KeyManagementAlgorithmNotSupportedError(`ECDH-HSALSA20 with ${jwk.kty} ${jwk.crv} keys`, DEFAULT_BACKEND)
  }
  const bytes = okpBytes(jwk.x)
  if (!bytes) throw new Kms.KeyManagementError("Invalid X25519 JWK: 'x' must be 32 bytes of base64url")
  return bytes
}

function inlineContentKey(jwk: { k: string }): Uint8Array {
  const bytes = fromBase64Url(jwk.k)
  if (!bytes || bytes.length !== C20P_KEY_BYTES) throw new Kms.KeyManagementError('C20P key must be 32 bytes')
  return bytes
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length)
  sodium.randombytes_buf(bytes)
  return bytes
}

function decryptionFailed(): Kms.KeyManagementError {
  return new Kms.KeyManagementError('Error decrypting: the ciphertext does not authenticate with this key')
}
