/**
 * An independent Aries RFC 0019 (DIDComm v1 encryption envelope) implementation on
 * libsodium-wrappers, written from the RFC text. It shares no code with Credo or with the KMS under
 * test, so an envelope that round-trips between the two proves wire compatibility.
 */
import sodium from 'libsodium-wrappers'
import { base58Decode, base58Encode } from './base58.js'

export interface Envelope {
  protected: string
  iv: string
  ciphertext: string
  tag: string
}

export interface ProtectedHeader {
  enc: string
  typ: string
  alg: 'Authcrypt' | 'Anoncrypt'
  recipients: Array<{ encrypted_key: string; header: { kid: string; sender?: string; iv?: string } }>
}

export interface Ed25519KeyPair {
  publicKey: Uint8Array
  /** libsodium's 64-byte secret key (seed || public key). */
  privateKey: Uint8Array
}

export async function ready(): Promise<void> {
  await sodium.ready
}

export function generateKeyPair(): Ed25519KeyPair {
  const { publicKey, privateKey } = sodium.crypto_sign_keypair()
  return { publicKey, privateKey }
}

export const verkeyOf = (keyPair: Ed25519KeyPair): string => base58Encode(keyPair.publicKey)

/** base64url; `padded` mimics stacks (ACA-Py, indy-sdk) that keep the `=` padding. */
export function b64url(bytes: Uint8Array | string, padded: boolean): string {
  return sodium.to_base64(
    bytes,
    padded ? sodium.base64_variants.URLSAFE : sodium.base64_variants.URLSAFE_NO_PADDING,
  )
}

export function fromB64url(text: string): Uint8Array {
  return sodium.from_base64(text.replace(/=+$/, ''), sodium.base64_variants.URLSAFE_NO_PADDING)
}

export function decodeProtected(envelope: Envelope): ProtectedHeader {
  return JSON.parse(sodium.to_string(fromB64url(envelope.protected))) as ProtectedHeader
}

export function pack(
  message: string,
  recipientVerkeys: string[],
  sender: Ed25519KeyPair | null,
  options: { padded: boolean },
): Envelope {
  const { padded } = options
  const cek = sodium.crypto_aead_chacha20poly1305_ietf_keygen()
  const senderCurveSecret = sender ? sodium.crypto_sign_ed25519_sk_to_curve25519(sender.privateKey) : null
  const recipients = recipientVerkeys.map((kid) => {
    const theirCurve = sodium.crypto_sign_ed25519_pk_to_curve25519(base58Decode(kid))
    if (!sender || !senderCurveSecret) {
      return { encrypted_key: b64url(sodium.crypto_box_seal(cek, theirCurve), padded), header: { kid } }
    }
    const cekIv = sodium.randombytes_buf(sodium.crypto_box_NONCEBYTES)
    const encryptedKey = sodium.crypto_box_easy(cek, cekIv, theirCurve, senderCurveSecret)
    const encryptedSender = sodium.crypto_box_seal(sodium.from_string(verkeyOf(sender)), theirCurve)
    return {
      encrypted_key: b64url(encryptedKey, padded),
      header: { kid, sender: b64url(encryptedSender, padded), iv: b64url(cekIv, padded) },
    }
  })
  const header: ProtectedHeader = {
    enc: 'xchacha20poly1305_ietf',
    typ: 'JWM/1.0',
    alg: sender ? 'Authcrypt' : 'Anoncrypt',
    recipients,
  }
  const protectedValue = b64url(JSON.stringify(header), padded)
  const iv = sodium.randombytes_buf(sodium.crypto_aead_chacha20poly1305_ietf_NPUBBYTES)
  const { ciphertext, mac } = sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    sodium.from_string(message),
    sodium.from_string(protectedValue),
    null,
    iv,
    cek,
  )
  return { protected: protectedValue, iv: b64url(iv, padded), ciphertext: b64url(ciphertext, padded), tag: b64url(mac, padded) }
}

export interface Unpacked {
  message: string
  recipientVerkey: string
  senderVerkey: string | null
}

export function unpack(envelope: Envelope, ownKeys: Ed25519KeyPair[]): Unpacked {
  const header = decodeProtected(envelope)
  if (header.enc !== 'xchacha20poly1305_ietf') throw new Error(`unexpected enc ${header.enc}`)
  if (header.typ !== 'JWM/1.0') throw new Error(`unexpected typ ${header.typ}`)
  const mine = new Map(ownKeys.map((k) => [verkeyOf(k), k]))
  const recipient = header.recipients.find((r) => mine.has(r.header.kid))
  if (!recipient) throw new Error('no recipient entry for our keys')
  const own = mine.get(recipient.header.kid) as Ed25519KeyPair
  const ourCurveSecret = sodium.crypto_sign_ed25519_sk_to_curve25519(own.privateKey)
  const ourCurvePublic = sodium.crypto_sign_ed25519_pk_to_curve25519(own.publicKey)
  let cek: Uint8Array
  let senderVerkey: string | null = null
  if (header.alg === 'Authcrypt') {
    const { sender, iv } = recipient.header
    if (!sender || !iv) throw new Error('authcrypt recipient without sender/iv')
    senderVerkey = sodium.to_string(sodium.crypto_box_seal_open(fromB64url(sender), ourCurvePublic, ourCurveSecret))
    const senderCurve = sodium.crypto_sign_ed25519_pk_to_curve25519(base58Decode(senderVerkey))
    cek = sodium.crypto_box_open_easy(fromB64url(recipient.encrypted_key), fromB64url(iv), senderCurve, ourCurveSecret)
  } else if (header.alg === 'Anoncrypt') {
    if (recipient.header.sender || recipient.header.iv) throw new Error('anoncrypt recipient with sender/iv')
    cek = sodium.crypto_box_seal_open(fromB64url(recipient.encrypted_key), ourCurvePublic, ourCurveSecret)
  } else {
    throw new Error(`unexpected alg ${String(header.alg)}`)
  }
  const plaintext = sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    null,
    fromB64url(envelope.ciphertext),
    fromB64url(envelope.tag),
    sodium.from_string(envelope.protected),
    fromB64url(envelope.iv),
    cek,
  )
  return { message: sodium.to_string(plaintext), recipientVerkey: recipient.header.kid, senderVerkey }
}
