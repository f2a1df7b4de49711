import { Kms, TypedArrayEncoder } from '@credo-ts/core'
import type { DidCommTransportSession } from '@credo-ts/didcomm'
import { z } from 'zod'

/** Credo's envelope keys type; it is not exported by name from @credo-ts/didcomm. */
export type EnvelopeKeys = NonNullable<DidCommTransportSession['keys']>

/**
 * The keys to pack a message for a wallet's live session, in a form that fits in the session
 * directory: base58 Ed25519 public keys and our KMS key id. Taken from the transport session of the
 * message that turned live mode on (the wallet's sender key, our recipient key), so any worker can
 * pack a delivery without loading the connection and its DID documents.
 */
export const liveSessionKeysSchema = z.object({
  recipientKeys: z.array(z.string().min(32).max(64)).min(1),
  senderKey: z.string().min(32).max(64),
  senderKeyId: z.string().min(1).max(256),
  /**
   * How the wallet takes its messages: absent for pickup v2 live mode (a `delivery` message to
   * confirm), `implicit` for a wallet that only keeps a return-route socket (the envelopes as they are).
   */
  delivery: z.literal('implicit').optional(),
  /**
   * Digests of the DIDs (ours, the wallet's) of the connection these keys were found to belong to,
   * written by the pickup fast path: later messages on the socket are then attributed to the
   * connection without a storage lookup (pickup-fast/socket-sessions.ts).
   */
  checkedDids: z.array(z.string().min(1).max(64)).min(1).max(2).optional(),
})
export type LiveSessionKeys = z.infer<typeof liveSessionKeysSchema>

export function toLiveSessionKeys(keys: EnvelopeKeys): LiveSessionKeys | undefined {
  if (!keys.senderKey || keys.routingKeys.length > 0 || keys.recipientKeys.length === 0) return undefined
  if (!keys.senderKey.hasKeyId) return undefined
  return {
    recipientKeys: keys.recipientKeys.map((k) => TypedArrayEncoder.toBase58(k.publicKey.publicKey)),
    senderKey: TypedArrayEncoder.toBase58(keys.senderKey.publicKey.publicKey),
    senderKeyId: keys.senderKey.keyId,
  }
}

export function toEnvelopeKeys(keys: LiveSessionKeys): EnvelopeKeys {
  const ed25519 = (base58: string) =>
    Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(base58) })
  const senderKey = ed25519(keys.senderKey)
  senderKey.keyId = keys.senderKeyId
  return { recipientKeys: keys.recipientKeys.map(ed25519), routingKeys: [], senderKey }
}
