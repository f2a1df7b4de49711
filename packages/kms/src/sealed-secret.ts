import { Kms } from '@credo-ts/core'
import { sodium } from './sodium.js'

/**
 * Encryption at rest of private keys: XChaCha20-Poly1305 under the operator's master key, with
 * the context and key id as associated data so a row copied to another key id or tenant does not
 * decrypt. Layout: version byte (1) || 24-byte random nonce || ciphertext || 16-byte tag.
 */
const FORMAT_V1 = 1
const NONCE_BYTES = 24
const TAG_BYTES = 16

export class KeyDecryptionError extends Kms.KeyManagementError {}

function associatedData(contextCorrelationId: string, keyId: string): Uint8Array {
  return Buffer.from(JSON.stringify(['mediator-kms/key/v1', contextCorrelationId, keyId]), 'utf8')
}

export function sealSecret(
  masterKey: Uint8Array,
  contextCorrelationId: string,
  keyId: string,
  secret: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(1 + NONCE_BYTES + secret.length + TAG_BYTES)
  out[0] = FORMAT_V1
  const nonce = out.subarray(1, 1 + NONCE_BYTES)
  sodium.randombytes_buf(nonce)
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    out.subarray(1 + NONCE_BYTES),
    secret,
    associatedData(contextCorrelationId, keyId),
    null,
    nonce,
    masterKey,
  )
  return out
}

export function openSecret(
  masterKey: Uint8Array,
  contextCorrelationId: string,
  keyId: string,
  sealed: Uint8Array,
): Uint8Array {
  if (sealed.length <= 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) {
    throw new KeyDecryptionError(`Stored key '${keyId}' has an unknown format`)
  }
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES)
  const ciphertext = sealed.subarray(1 + NONCE_BYTES)
  const secret = new Uint8Array(ciphertext.length - TAG_BYTES)
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      secret,
      null,
      ciphertext,
      associatedData(contextCorrelationId, keyId),
      nonce,
      masterKey,
    )
  } catch {
    throw new KeyDecryptionError(
      `Stored key '${keyId}' does not decrypt with the configured master key (wrong KMS_MASTER_KEY or tampered row)`,
    )
  }
  return secret
}

/** A keyed hash of a constant: proves which master key a database was set up with, reveals nothing of it. */
export function masterKeyCheckValue(masterKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  sodium.crypto_generichash(out, Buffer.from('mediator-kms/master-key-check/v1', 'utf8'), masterKey)
  return out
}
