import { randomUUID } from 'node:crypto'
import type { AgentContext } from '@credo-ts/core'
import type { DidCommEncryptedMessage, QueuedDidCommMessage } from '@credo-ts/didcomm'
import type { LiveSessionKeys } from '../pickup/live-session-keys.js'
import type { EnvelopePacker } from './envelope-crypto.js'

export const DELIVERY_TYPE = 'https://didcomm.org/messagepickup/2.0/delivery'

/**
 * The pickup v2 `delivery` message as plain JSON: exactly what Credo's DidCommMessageDeliveryV2Message
 * serialises to (same properties, same order, `lastmod_time` as ISO text, the empty `~thread` and the
 * return-route decorator it always carries), without a class-transformer pass.
 */
export function deliveryMessageJson(messages: readonly QueuedDidCommMessage[], id: string = randomUUID()) {
  return {
    '@type': DELIVERY_TYPE,
    '@id': id,
    '~attach': messages.map((m) => ({
      '@id': m.id,
      lastmod_time: m.receivedAt?.toISOString(),
      data: { json: m.encryptedMessage },
    })),
    '~thread': {},
    '~transport': { return_route: 'all' },
  }
}

/** Packs a live delivery for a wallet (what LiveDelivery needs), on the KMS directly. */
export interface DeliveryPacker {
  packDelivery(
    agentContext: AgentContext,
    messages: readonly QueuedDidCommMessage[],
    keys: LiveSessionKeys,
  ): Promise<DidCommEncryptedMessage>
}

export class FastDeliveryPacker implements DeliveryPacker {
  public constructor(private readonly packer: EnvelopePacker) {}

  public async packDelivery(
    agentContext: AgentContext,
    messages: readonly QueuedDidCommMessage[],
    keys: LiveSessionKeys,
  ): Promise<DidCommEncryptedMessage> {
    return this.packer.pack(agentContext, deliveryMessageJson(messages), {
      recipientKeys: keys.recipientKeys,
      sender: { publicKey: keys.senderKey, keyId: keys.senderKeyId },
    })
  }
}
