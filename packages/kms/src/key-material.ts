import { Kms } from '@credo-ts/core'
import { fromBase64Url, toBase64Url } from './encoding.js'
import { ED25519_SEED_BYTES, sodium, X25519_SECRET_BYTES } from './sodium.js'

export type OkpCurve = 'Ed25519' | 'X25519'

/** Public JWK as this KMS hands it to Credo: always carries `kid`. */
export type StoredPublicJwk = Kms.KmsJwkPublicOkp & { kid: string }

/**
 * A usable key pair, derived once from the stored secret and kept in the cache. Ed25519 keys also
 * carry their X25519 form (crypto_sign_ed25519_sk_to_curve25519, as Askar does), because DIDComm v1
 * agrees keys on the Ed25519 key ids that DIDs reference.
 */
export interface KeyMaterial {
  readonly keyId: string
  readonly curve: OkpCurve
  readonly publicJwk: StoredPublicJwk
  /** 64-byte libsodium Ed25519 secret key (seed || public key); Ed25519 keys only. */
  readonly signSecretKey: Uint8Array | null
  readonly signPublicKey: Uint8Array | null
  readonly boxSecretKey: Uint8Array
  readonly boxPublicKey: Uint8Array
}

export class InvalidKeyMaterialError extends Kms.KeyManagementError {}

/**
 * Builds the key pair from the 32-byte secret (Ed25519 seed or X25519 scalar). When
 * `expectedPublicKey` is given the derived public key must equal it: that catches an imported JWK
 * whose `x` does not belong to its `d`, and a stored row whose public half was tampered with.
 */
export function deriveKeyMaterial(
  keyId: string,
  curve: OkpCurve,
  secret: Uint8Array,
  publicJwkExtras: Partial<Kms.KmsJwkPublicOkp> = {},
  expectedPublicKey?: Uint8Array,
): KeyMaterial {
  if (secret.length !== (curve === 'Ed25519' ? ED25519_SEED_BYTES : X25519_SECRET_BYTES)) {
    throw new InvalidKeyMaterialError(`${curve} private key must be 32 bytes`)
  }
  let signSecretKey: Uint8Array | null = null
  let signPublicKey: Uint8Array | null = null
  const boxSecretKey = new Uint8Array(32)
  const boxPublicKey = new Uint8Array(32)
  let publicKey: Uint8Array
  if (curve === 'Ed25519') {
    signPublicKey = new Uint8Array(sodium.crypto_sign_PUBLICKEYBYTES)
    signSecretKey = new Uint8Array(sodium.crypto_sign_SECRETKEYBYTES)
    sodium.crypto_sign_seed_keypair(signPublicKey, signSecretKey, secret)
    sodium.crypto_sign_ed25519_sk_to_curve25519(boxSecretKey, signSecretKey)
    sodium.crypto_sign_ed25519_pk_to_curve25519(boxPublicKey, signPublicKey)
    publicKey = signPublicKey
  } else {
    boxSecretKey.set(secret)
    sodium.crypto_scalarmult_base(boxPublicKey, boxSecretKey)
    publicKey = boxPublicKey
  }
  if (expectedPublicKey && !equalBytes(expectedPublicKey, publicKey)) {
    wipeKeyMaterial({ signSecretKey, boxSecretKey })
    throw new InvalidKeyMaterialError(`The public key of ${curve} key '${keyId}' does not match its private key`)
  }
  const { d: _d, ...extras } = publicJwkExtras
  const publicJwk: StoredPublicJwk = { ...extras, kty: 'OKP', crv: curve, x: toBase64Url(publicKey), kid: keyId }
  return { keyId, curve, publicJwk, signSecretKey, signPublicKey, boxSecretKey, boxPublicKey }
}

export function generateSecret(): Uint8Array {
  const secret = new Uint8Array(32)
  sodium.randombytes_buf(secret)
  return secret
}

/** Zeroes the secret halves when a key leaves the cache or is deleted. */
export function wipeKeyMaterial(key: Pick<KeyMaterial, 'signSecretKey' | 'boxSecretKey'>): void {
  if (key.signSecretKey) sodium.sodium_memzero(key.signSecretKey)
  sodium.sodium_memzero(key.boxSecretKey)
}

/** The 32 raw bytes of an OKP JWK member (`x` or `d`), or null when it is not 32 bytes of base64url. */
export function okpBytes(value: string | undefined): Uint8Array | null {
  if (value === undefined) return null
  const bytes = fromBase64Url(value)
  return bytes && bytes.length === 32 ? bytes : null
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sodium.sodium_memcmp(a, b)
}
