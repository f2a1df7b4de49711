import { randomUUID } from 'node:crypto'
import { utils, type AgentContext } from '@credo-ts/core'
import {
  DidCommAttachment,
  DidCommEnvelopeService,
  DidCommMessageDeliveryV2Message,
  type DidCommEncryptedMessage,
  type QueuedDidCommMessage,
} from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import type {
  IdempotentAddMessageOptions,
  LiveSessionDirectory,
  LiveSessionEntry,
  RedisPickupQueue,
} from '@mediator/redis'
import type { RelayClient } from '../relay/relay-client.js'
import type { MediatorMetrics } from '../metrics.js'
import type { DeliveryPacker } from '../forward/delivery-packer.js'
import type { JobScope } from '../inbound/job-scope.js'
import { liveSessionKeysSchema, toEnvelopeKeys, type LiveSessionKeys } from './live-session-keys.js'
import { deliverImplicitly } from './implicit-delivery.js'

export type LiveDeliveryOutcome = 'not-live' | 'empty' | 'written' | 'gone' | 'failed'

export interface LiveDeliveryOptions {
  directory: LiveSessionDirectory
  queue: RedisPickupQueue
  relay: RelayClient
  metrics: MediatorMetrics
  /** Messages per delivery message (pickup v2 batch). */
  batchSize?: number
  /** Packs deliveries on the KMS directly; without it Credo's envelope service packs them. */
  packer?: DeliveryPacker
  /**
   * Which inbound message is being processed, so that its own place in the order holds nothing back,
   * and so that its deliveries' holds end with it.
   */
  jobScope?: Pick<JobScope, 'currentMessageId' | 'keepLiveHold'>
}

/** A batch taken for a live session by addAndTake, with the token of the hold the take put on it. */
export interface TakenForLive {
  entry: LiveSessionEntry
  messages: QueuedDidCommMessage[]
  token: string
}

/**
 * Pushes what is queued for a wallet to its live session, from whichever worker notices: the one that
 * queued a message, or the one that registered the session. The queue stays the source of truth:
 * messages are taken under a lease and deleted only when the wallet confirms them (messages-received),
 * so a delivery that never arrives is delivered again.
 *
 * One delivery at a time per wallet: a take holds the connection (the pickup queue's live hold) until
 * the relay answered the send, so that two workers never write a wallet two batches that could cross
 * on the way to its socket. The holder hands on: whatever was queued meanwhile, it delivers next. A
 * job's deliveries keep their hold until the job ends (released with the job's finish, one round
 * trip); others release right after their send.
 */
export class LiveDelivery {
  private readonly batchSize: number

  public constructor(private readonly options: LiveDeliveryOptions) {
    this.batchSize = options.batchSize ?? 10
  }

  /**
   * Makes what the wallet was sent and has not confirmed available again at once, for a new socket:
   * a relay that died (kill -9) with frames in its buffers reports no close, and the wallet must not
   * wait for the lease to run out to get them.
   */
  public releaseUnconfirmed(connectionId: string): Promise<number> {
    return this.options.queue.releaseInFlight(connectionId)
  }

  /** Delivers pending messages of `connectionId` if the wallet is live somewhere. */
  public async deliverQueued(
    agentContext: AgentContext,
    connectionId: string,
    log: Logger,
    receivedAt?: number,
  ): Promise<LiveDeliveryOutcome> {
    const { directory, queue } = this.options
    const entry = await directory.lookup(connectionId)
    if (!entry) return 'not-live'
    const keys = liveSessionKeysSchema.safeParse(entry.keys)
    if (!keys.success) {
      log.warn({ connectionId }, 'live session without packing keys, ignored')
      return 'not-live'
    }
    const token = this.token()
    for (;;) {
      // Messages held back for an earlier inbound message still in process are delivered by whoever
      // finishes that one (deferIfHeld; see InboundOrder); those behind another delivery's hold, by
      // that delivery.
      const messages = await queue.takeFromQueue(agentContext, {
        connectionId,
        limit: this.batchSize,
        orderOwner: this.options.jobScope?.currentMessageId(),
        deferIfHeld: true,
        liveToken: token,
      })
      const outcome = await this.send(agentContext, connectionId, entry, keys.data, messages, log, receivedAt)
      if (messages.length === 0 || !(await this.handOn(connectionId, token, outcome))) return outcome
    }
  }

  /**
   * Queues a message and, if the wallet is live, takes a delivery batch for it under a lease, in one
   * Redis round trip (instead of add, directory lookup, take). Errors of the add (PickupQueueFullError)
   * are thrown as addMessage throws them. When `live` is returned, pass it to `deliverTaken`, which
   * sends it or releases exactly what was taken.
   */
  public async addAndTake(
    agentContext: AgentContext,
    options: IdempotentAddMessageOptions,
  ): Promise<{ id: string; live?: TakenForLive }> {
    const token = this.token()
    const { id, live } = await this.options.queue.addMessageAndTakeIfLive(agentContext, options, {
      entryKey: this.options.directory.keys.entry(options.connectionId),
      limit: this.batchSize,
      token,
    })
    return live ? { id, live: { ...live, token } } : { id }
  }

  /**
   * Packs and sends `messages`, already taken under a lease for the live session `entry`; when they
   * were not sent they are released at once (only these), and a session the relay says is gone is
   * unregistered. When the relay gave no answer they may have reached the wallet, so they keep their
   * lease: released now, they would go out again at once and could cross the wallet's confirmation of
   * the first copy. The lease running out, or the wallet's next socket, brings them back.
   */
  public async deliverTaken(
    agentContext: AgentContext,
    connectionId: string,
    { entry, messages, token }: TakenForLive,
    log: Logger,
    receivedAt?: number,
  ): Promise<LiveDeliveryOutcome> {
    const keys = liveSessionKeysSchema.safeParse(entry.keys)
    let outcome: LiveDeliveryOutcome
    if (keys.success) {
      outcome = await this.send(agentContext, connectionId, entry, keys.data, messages, log, receivedAt)
    } else {
      log.warn({ connectionId }, 'live session without packing keys, ignored')
      await this.options.queue.releaseInFlight(
        connectionId,
        messages.map((m) => m.id),
      )
      outcome = 'not-live'
    }
    if (messages.length > 0 && (await this.handOn(connectionId, token, outcome))) {
      return this.deliverQueued(agentContext, connectionId, log)
    }
    return outcome
  }

  /**
   * After a send that took messages: a job's delivery keeps its hold until the job ends; any other
   * releases it now, and says whether to deliver again (something was queued meanwhile and the
   * wallet is still there).
   */
  private async handOn(connectionId: string, token: string, outcome: LiveDeliveryOutcome): Promise<boolean> {
    if (token === this.options.jobScope?.currentMessageId() && this.options.jobScope.keepLiveHold(connectionId)) return false
    const { available } = await this.options.queue.releaseLive(connectionId, token)
    return outcome === 'written' && available > 0
  }

  /** A job's deliveries share its message id as their token (so its own takes may go on); others get one each. */
  private token(): string {
    return this.options.jobScope?.currentMessageId() ?? randomUUID()
  }

  /** Packs and sends what was taken for `entry`, whose keys are already checked (see deliverTaken). */
  private async send(
    agentContext: AgentContext,
    connectionId: string,
    entry: LiveSessionEntry,
    keys: LiveSessionKeys,
    messages: QueuedDidCommMessage[],
    log: Logger,
    receivedAt?: number,
  ): Promise<LiveDeliveryOutcome> {
    const { directory, queue, relay, metrics } = this.options
    if (messages.length === 0) {
      metrics.liveDeliveries.inc({ outcome: 'empty' })
      return 'empty'
    }
    if (keys.delivery === 'implicit') return deliverImplicitly(this.options, connectionId, entry, messages, log)

    let packed: DidCommEncryptedMessage
    try {
      packed = this.options.packer
        ? await this.options.packer.packDelivery(agentContext, messages, keys)
        : await agentContext.dependencyManager
            .resolve(DidCommEnvelopeService)
            .packMessage(agentContext, createDeliveryMessage(messages), toEnvelopeKeys(keys))
    } catch (error) {
      // Nothing left this process: the messages are available again at once, not after the lease.
      await queue.releaseInFlight(
        connectionId,
        messages.map((m) => m.id),
      )
      throw error
    }
    const result = await relay.send(entry.relayId, entry.socketId, JSON.stringify(packed))
    metrics.liveDeliveries.inc({ outcome: result.outcome })
    if (result.outcome === 'written') {
      if (receivedAt !== undefined) metrics.deliveryLatency.observe((Date.now() - receivedAt) / 1000)
      log.debug({ connectionId, count: messages.length, socketId: entry.socketId }, 'live delivery written')
      return 'written'
    }
    if (result.outcome === 'failed' && result.maybeWritten) {
      log.warn({ connectionId, socketId: entry.socketId, reason: result.reason }, 'live delivery unanswered, messages stay leased')
      return result.outcome
    }
    // Not delivered: make these messages available again at once instead of after the lease (only
    // these: another worker's batch for the same wallet keeps its lease).
    await queue.releaseInFlight(
      connectionId,
      messages.map((m) => m.id),
    )
    if (result.outcome === 'gone') {
      await directory.unregister(connectionId, entry.socketId, entry.relayId)
      log.info({ connectionId, socketId: entry.socketId, reason: result.reason }, 'live session gone, messages stay queued')
    } else {
      log.warn({ connectionId, socketId: entry.socketId, reason: result.reason }, 'live delivery failed, messages stay queued')
    }
    return result.outcome
  }
}

function createDeliveryMessage(messages: QueuedDidCommMessage[]): DidCommMessageDeliveryV2Message {
  const message = new DidCommMessageDeliveryV2Message({
    attachments: messages.map(
      (m) => new DidCommAttachment({ id: m.id, lastmodTime: m.receivedAt, data: { json: m.encryptedMessage } }),
    ),
  })
  // The wallet answers with messages-received on a new thread; an id per delivery keeps logs apart.
  message.id = utils.uuid()
  return message
}
