import { verkeyToDidKey } from '@credo-ts/core'
import {
  DidCommConnectionRepository,
  DidCommForwardMessage,
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
  DidCommModuleConfig,
  type DidCommInboundMessageContext,
  type DidCommMessageHandler,
} from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import type { ProtocolMetrics } from './protocol-metrics.js'
import { parseRecipientKey } from '@mediator/credo-runtime'

export type UnroutableReason = 'malformed_key' | 'unknown_key' | 'ambiguous_key' | 'not_granted' | 'connection_not_ready'

/**
 * A forward that no wallet of this mediator can receive. It is a property of the message, so the
 * job that carried it is not retried: it goes to the dead letters with this message.
 */
export class UnroutableForwardError extends Error {
  public constructor(
    public readonly reason: UnroutableReason,
    message: string,
  ) {
    super(message)
    this.name = 'UnroutableForwardError'
  }
}

/**
 * routing/1.0 forward (under the https://didcomm.org and the legacy did:sov prefix alike: Credo
 * rewrites the legacy prefix before any handler is chosen). The message is queued for the wallet whose
 * granted mediation holds the `to` key; the queue pushes it to the wallet's live session, wherever in
 * the cluster that is. Unlike Credo's handler it accepts `to` as did:key as well as base58, does not
 * read the connection a second time to queue, and fails with a clear error (counted by reason)
 * instead of a record lookup error when the key is unknown. The forward fast path hands every
 * forward it cannot route to this handler, so this is where unroutable forwards are judged.
 */
export class ForwardHandler implements DidCommMessageHandler {
  public readonly supportedMessages = [DidCommForwardMessage]

  public constructor(
    private readonly metrics: ProtocolMetrics,
    private readonly logger: Logger,
  ) {}

  public async handle(messageContext: DidCommInboundMessageContext<DidCommForwardMessage>): Promise<undefined> {
    const { agentContext, message } = messageContext
    const key = parseRecipientKey(message.to)
    if (!key.ok) this.unroutable('malformed_key', `forward "to" is not a recipient key (${key.reason})`, message)

    const records = await agentContext.resolve(DidCommMediationRepository).findByQuery(agentContext, {
      role: DidCommMediationRole.Mediator,
      recipientKeys: [key.base58],
    })
    const record = records[0]
    if (!record) this.unroutable('unknown_key', `forward to recipient key ${key.base58}, which no wallet registered`, message)
    if (records.length > 1) {
      this.unroutable('ambiguous_key', `forward to recipient key ${key.base58}, which ${records.length} mediations hold`, message)
    }
    if (record.state !== DidCommMediationState.Granted) {
      this.unroutable('not_granted', `forward to recipient key ${key.base58} of a mediation in state ${record.state}`, message)
    }

    // A wallet can only pick up over a ready connection; queueing for a deleted one would only fill a
    // queue nobody drains until retention (the fast path makes the same check).
    const connection = await agentContext.resolve(DidCommConnectionRepository).findById(agentContext, record.connectionId)
    if (!connection?.isReady) {
      this.unroutable('connection_not_ready', `forward to recipient key ${key.base58} of a connection that is not ready`, message)
    }

    await agentContext.resolve(DidCommModuleConfig).queueTransportRepository.addMessage(agentContext, {
      connectionId: record.connectionId,
      recipientDids: [verkeyToDidKey(key.base58)],
      payload: message.message,
      receivedAt: messageContext.receivedAt,
    })
    return undefined
  }

  private unroutable(reason: UnroutableReason, text: string, message: DidCommForwardMessage): never {
    this.metrics.unroutableForwards.inc({ reason })
    this.logger.warn({ reason, forwardId: message.id, to: message.to }, 'forward cannot be routed: dead-lettered')
    throw new UnroutableForwardError(reason, text)
  }
}
