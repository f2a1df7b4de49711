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
  /** Which inbound message is being processed, so that its own place in the order holds nothing back. */
  jobScope?: Pick<JobScope, 'currentMessageId'>
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
 * on the way to its socket. The holder hands on: whatever was queued meanwhile, it delivers next,
 * right after the relay answered its send (not when its job ends: the next forward to a busy wallet
 * waits one send, not one job).
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
    // Every delivery has its own token, a job's too: two deliveries of one job must not cross either.
    return this.deliverUnder(agentContext, connectionId, randomUUID(), log, receivedAt)
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
  ): Promise<{ id: string; due: string[]; live?: TakenForLive }> {
    const token = randomUUID()
    const { id, due, live } = await this.options.queue.addMessageAndTakeIfLive(agentContext, options, {
      entryKey: this.options.directory.keys.entry(options.connectionId),
      limit: this.batchSize,
      token,
    })
    return live ? { id, due, live: { ...live, token } } : { id, due }
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
    if (!keys.success) return this.ignoreSession(connectionId, token, messages, log)
    const outcome = await this.sendHolding(agentContext, connectionId, token, entry, keys.data, messages, log, receivedAt)
    if (messages.length === 0 || outcome !== 'written') return outcome
    return this.deliverUnder(agentContext, connectionId, token, log, undefined, outcome)
  }

  /**
   * Takes and sends batches for the connection's live session under `token` until nothing is left
   * (see RedisPickupQueue.takeForLive: each take also looks the session up, and the take that finds
   * nothing ends the hold). `sent` is the outcome of a send already made under the token: this is then
   * the holder handing on what came meanwhile. Messages held back for an earlier inbound message still
   * in process are delivered by whoever finishes that one (see InboundOrder); those behind another
   * delivery's hold, by that delivery.
   */
  private async deliverUnder(
    agentContext: AgentContext,
    connectionId: string,
    token: string,
    log: Logger,
    receivedAt: number | undefined,
    sent?: LiveDeliveryOutcome,
  ): Promise<LiveDeliveryOutcome> {
    const { directory, queue } = this.options
    let outcome = sent
    for (;;) {
      const { entry, messages } = await queue.takeForLive(connectionId, {
        entryKey: directory.keys.entry(connectionId),
        limit: this.batchSize,
        token,
        orderOwner: this.options.jobScope?.currentMessageId(),
      })
      if (!entry) return outcome ?? 'not-live'
      const keys = liveSessionKeysSchema.safeParse(entry.keys)
      if (!keys.success) return this.ignoreSession(connectionId, token, messages, log)
      if (messages.length === 0) return outcome ?? (await this.send(agentContext, connectionId, entry, keys.data, messages, log))
      outcome = await this.sendHolding(agentContext, connectionId, token, entry, keys.data, messages, log, receivedAt)
      if (outcome !== 'written') return outcome
      receivedAt = undefined
    }
  }

  /** A session without packing keys (an older layout) counts as none: what was taken for it goes back. */
  private async ignoreSession(
    connectionId: string,
    token: string,
    messages: QueuedDidCommMessage[],
    log: Logger,
  ): Promise<LiveDeliveryOutcome> {
    log.warn({ connectionId }, 'live session without packing keys, ignored')
    await this.options.queue.releaseInFlight(
      connectionId,
      messages.map((m) => m.id),
    )
    await this.options.queue.releaseLive(connectionId, token)
    return 'not-live'
  }

  /**
   * Sends what was taken under `token`'s hold; the hold ends here unless the send was written (the
   * holder then takes again, which ends it when there is nothing more). A send that throws (packing)
   * ends it too, so that the wallet's next delivery need not wait for the hold to run out.
   */
  private async sendHolding(
    agentContext: AgentContext,
    connectionId: string,
    token: string,
    entry: LiveSessionEntry,
    keys: LiveSessionKeys,
    messages: QueuedDidCommMessage[],
    log: Logger,
    receivedAt: number | undefined,
  ): Promise<LiveDeliveryOutcome> {
    let outcome: LiveDeliveryOutcome | undefined
    try {
      outcome = await this.send(agentContext, connectionId, entry, keys, messages, log, receivedAt)
      return outcome
    } finally {
      if (messages.length > 0 && outcome !== 'written') await this.options.queue.releaseLive(connectionId, token)
    }
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
