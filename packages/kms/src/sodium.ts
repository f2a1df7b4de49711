import sodiumNative from 'sodium-native'

/**
 * The slice of sodium-native 5 this package uses, typed against what the library really accepts
 * (any Uint8Array) and returns. The published @types/sodium-native describe v2 and lack the IETF
 * ChaCha20-Poly1305 functions, so we declare the signatures we rely on here once.
 */
export interface Sodium {
  readonly crypto_sign_PUBLICKEYBYTES: number
  readonly crypto_sign_SECRETKEYBYTES: number
  readonly crypto_sign_SEEDBYTES: number
  readonly crypto_sign_BYTES: number
  readonly crypto_box_PUBLICKEYBYTES: number
  readonly crypto_box_SECRETKEYBYTES: number
  readonly crypto_box_NONCEBYTES: number
  readonly crypto_box_MACBYTES: number
  readonly crypto_box_SEALBYTES: number
  readonly crypto_aead_chacha20poly1305_ietf_KEYBYTES: number
  readonly crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number
  readonly crypto_aead_chacha20poly1305_ietf_ABYTES: number
  readonly crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number
  readonly crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number
  readonly crypto_aead_xchacha20poly1305_ietf_ABYTES: number
  readonly crypto_generichash_BYTES: number

  randombytes_buf(buf: Uint8Array): void
  sodium_malloc(size: number): Buffer
  sodium_memzero(buf: Uint8Array): void
  sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean
  crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void

  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(sig: Uint8Array, message: Uint8Array, sk: Uint8Array): void
  crypto_sign_verify_detached(sig: Uint8Array, message: Uint8Array, pk: Uint8Array): boolean
  crypto_sign_ed25519_pk_to_curve25519(curvePk: Uint8Array, edPk: Uint8Array): void
  crypto_sign_ed25519_sk_to_curve25519(curveSk: Uint8Array, edSk: Uint8Array): void
  crypto_scalarmult_base(pk: Uint8Array, sk: Uint8Array): void

  crypto_box_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, pk: Uint8Array, sk: Uint8Array): void
  crypto_box_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, pk: Uint8Array, sk: Uint8Array): boolean
  crypto_box_seal(c: Uint8Array, m: Uint8Array, pk: Uint8Array): void
  crypto_box_seal_open(m: Uint8Array, c: Uint8Array, pk: Uint8Array, sk: Uint8Array): boolean

  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number
  /** Throws when the tag does not verify. */
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    mac: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): void
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number
  /** Throws when the tag does not verify. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number
}

// The cast narrows the stale community typings to the v5 signatures declared above.
export const sodium = sodiumNative as unknown as Sodium

export const ED25519_SEED_BYTES = 32
export const X25519_SECRET_BYTES = 32
export const KEY_BYTES = 32
