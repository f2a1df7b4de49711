import { Kms, TypedArrayEncoder, type AgentContext } from '@credo-ts/core'
import { ed25519ToX25519PublicKey } from '@mediator/kms'
import { BoundedMap } from '../cache/bounded-map.js'
import {
  ENVELOPE_ENC,
  ENVELOPE_TYP,
  fromBase64,
  toBase64Url,
  type EnvelopeJson,
  type EnvelopeRecipient,
} from './envelope.js'

/**
 * What this module needs from a KMS: exactly the Credo KMS calls DIDComm v1 makes, with the same
 * options (see DidCommEnvelopeService), made directly on the backend. Going around Credo's
 * KeyManagementApi skips its zod validation of every option object, which costs more than the
 * crypto itself on the forward path.
 */
export type EnvelopeKms = Pick<Kms.KeyManagementService, 'encrypt' | 'decrypt' | 'randomBytes'>

type X25519Jwk = ReturnType<Kms.PublicJwk<Kms.X25519PublicJwk>['toJson']>

/**
 * Ed25519 public keys (base58, as envelopes carry them) to the X25519 JWK the KMS wants, converted
 * with sodium (Credo's pure-JavaScript conversion took a millisecond or more per key, and every
 * wallet has keys of its own) and kept per process for the wallets a worker serves.
 */
export class PeerKeyCache {
  private readonly entries: BoundedMap<string, { x25519: X25519Jwk; publicKey: Uint8Array }>

  public constructor(maxEntries = 100_000) {
    this.entries = new BoundedMap(maxEntries)
  }

  public get(base58: string): { x25519: X25519Jwk; publicKey: Uint8Array } {
    const hit = this.entries.get(base58)
    if (hit) return hit
    const publicKey = TypedArrayEncoder.fromBase58(base58)
    const x25519: X25519Jwk = { kty: 'OKP', crv: 'X25519', x: toBase64Url(ed25519ToX25519PublicKey(publicKey)) }
    const entry = { x25519, publicKey }
    this.entries.set(base58, entry)
    return entry
  }
}

export interface PackKeys {
  /** Base58 Ed25519 public keys of the recipients. */
  recipientKeys: readonly string[]
  /** Our key for authcrypt (base58 public key and KMS key id); absent for anoncrypt. */
  sender?: { publicKey: string; keyId: string }
}

/**
 * Packs DIDComm v1 envelopes on the KMS, byte-for-byte the construction of Credo's
 * `DidCommEnvelopeService.encryptDidcommV1Message` (CEK from the KMS, XSALSA20-POLY1305 key boxes,
 * C20P body with the protected header as AAD), without Credo's per-call base58, key conversion and
 * option validation.
 */
export class EnvelopePacker {
  /**
   * The authcrypt `sender` header (our public key sealed to one recipient) by sender and recipient.
   * A sealed box costs two X25519 operations, more than the rest of a delivery's crypto; its content
   * is a public key, and only that recipient can open it, so the same box serves every envelope from
   * this sender to this recipient (the CEK box and the body stay fresh per envelope).
   */
  private readonly sealedSenders: BoundedMap<string, string>

  public constructor(
    private readonly kms: EnvelopeKms,
    private readonly peers: PeerKeyCache = new PeerKeyCache(),
    maxSealedSenders = 10_000,
  ) {
    this.sealedSenders = new BoundedMap(maxSealedSenders)
  }

  public async pack(agentContext: AgentContext, message: unknown, keys: PackKeys): Promise<EnvelopeJson> {
    const cek = this.kms.randomBytes(agentContext, { length: 32 })
    const recipients: EnvelopeRecipient[] = []
    for (const recipientKey of keys.recipientKeys) {
      const externalPublicJwk = this.peers.get(recipientKey).x25519
      const sender = keys.sender
        ? await this.sealedSender(agentContext, keys.sender.publicKey, recipientKey, externalPublicJwk)
        : undefined
      const { encrypted, iv } = await this.kms.encrypt(agentContext, {
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk, keyId: keys.sender?.keyId } },
        encryption: { algorithm: 'XSALSA20-POLY1305' },
        data: cek,
      })
      recipients.push({
        encrypted_key: toBase64Url(encrypted),
        header: { kid: recipientKey, iv: iv ? toBase64Url(iv) : undefined, sender },
      })
    }
    const header = { enc: ENVELOPE_ENC, typ: ENVELOPE_TYP, alg: keys.sender ? 'Authcrypt' : 'Anoncrypt', recipients }
    const protectedHeader = Buffer.from(JSON.stringify(header), 'utf8').toString('base64url')
    const { encrypted, iv, tag } = await this.kms.encrypt(agentContext, {
      encryption: { algorithm: 'C20P', aad: Buffer.from(protectedHeader, 'utf8') },
      data: Buffer.from(JSON.stringify(message), 'utf8'),
      key: { privateJwk: { kty: 'oct', k: toBase64Url(cek) } },
    })
    if (!iv || !tag) throw new Error('the KMS returned no iv or tag for C20P')
    return { protected: protectedHeader, iv: toBase64Url(iv), ciphertext: toBase64Url(encrypted), tag: toBase64Url(tag) }
  }

  private async sealedSender(
    agentContext: AgentContext,
    senderKey: string,
    recipientKey: string,
    externalPublicJwk: X25519Jwk,
  ): Promise<string> {
    const cacheKey = `${senderKey} ${recipientKey}`
    const cached = this.sealedSenders.get(cacheKey)
    if (cached !== undefined) return cached
    const { encrypted } = await this.kms.encrypt(agentContext, {
      key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk } },
      encryption: { algorithm: 'XSALSA20-POLY1305' },
      data: Buffer.from(senderKey, 'utf8'),
    })
    const sealed = toBase64Url(encrypted)
    this.sealedSenders.set(cacheKey, sealed)
    return sealed
  }
}

/** A KMS refusal (wrong key, forged box): the envelope is not for us, or not intact. */
export function isDecryptionFailure(error: unknown): boolean {
  return error instanceof Kms.KeyManagementError
}

/**
 * Opens the CEK box of one recipient and then the body, with the same KMS calls Credo makes. With
 * `senderX25519` the box is authcrypt (crypto_box), without it anoncrypt (sealed box). Throws the
 * KMS's error when something does not authenticate.
 */
export async function openEnvelopeBody(
  kms: Pick<EnvelopeKms, 'decrypt'>,
  agentContext: AgentContext,
  envelope: EnvelopeJson,
  recipient: EnvelopeRecipient,
  keyId: string,
  senderX25519?: X25519Jwk,
): Promise<Uint8Array> {
  const { data: cek } = await kms.decrypt(agentContext, {
    key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId, externalPublicJwk: senderX25519 } },
    decryption: {
      algorithm: 'XSALSA20-POLY1305',
      iv: recipient.header.iv !== undefined ? fromBase64(recipient.header.iv) : undefined,
    },
    encrypted: fromBase64(recipient.encrypted_key),
  })
  const { data } = await kms.decrypt(agentContext, {
    decryption: {
      algorithm: 'C20P',
      iv: fromBase64(envelope.iv),
      tag: fromBase64(envelope.tag),
      aad: Buffer.from(envelope.protected, 'utf8'),
    },
    key: { privateJwk: { kty: 'oct', k: toBase64Url(cek) } },
    encrypted: fromBase64(envelope.ciphertext),
  })
  return data
}

/** The sender of an authcrypt recipient entry: its base58 Ed25519 key, from the sealed `sender` header. */
export async function openSenderKey(
  kms: Pick<EnvelopeKms, 'decrypt'>,
  agentContext: AgentContext,
  recipient: EnvelopeRecipient,
  keyId: string,
): Promise<string> {
  if (recipient.header.sender === undefined) throw new Error('not an authcrypt recipient')
  const { data } = await kms.decrypt(agentContext, {
    key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId } },
    decryption: { algorithm: 'XSALSA20-POLY1305' },
    encrypted: fromBase64(recipient.header.sender),
  })
  return Buffer.from(data).toString('utf8')
}
