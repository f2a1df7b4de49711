import type { AgentContext } from '@credo-ts/core'
import type {
  AddMessageOptions,
  DidCommQueueTransportRepository,
  GetAvailableMessageCountOptions,
  QueuedDidCommMessage,
  RemoveMessagesOptions,
  TakeFromQueueOptions,
} from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import { PickupQueueFullError, type RedisPickupQueue } from '@mediator/redis'
import type { MediatorMetrics } from '../metrics.js'
import type { JobScope } from '../inbound/job-scope.js'
import type { BackgroundWrites } from './background-writes.js'
import type { LiveDelivery } from './live-delivery.js'

/** Credo's add options, plus what only our own callers know (see DeliveringQueue.addMessage). */
export interface DeliveringAddOptions extends AddMessageOptions {
  /**
   * This is the last message the inbound job queues (the forward fast path queues exactly one): the
   * add gives up the job's place in the order in the same step, so later deliveries to other wallets
   * wait for this forward only until it is queued, not until its job ends.
   */
  settlesOrder?: boolean
}

export interface DeliveringQueueDeps {
  queue: RedisPickupQueue
  liveDelivery: LiveDelivery
  backgroundWrites: BackgroundWrites
  metrics: MediatorMetrics
  logger: Logger
  jobScope?: JobScope
  /** Told when a message was queued for a wallet with no live session (push notifications). */
  offlineListener?: QueuedWhileOfflineListener
  /** Delivers to connections whose held-back deliveries a settling add made due (HeldDeliveries.deliverDue). */
  deliverDue: (connectionIds: readonly string[], log: Logger) => Promise<void>
}

/**
 * Told when a message was queued for a wallet with no live session anywhere (to wake it with a push
 * notification). Called after the message is durably queued; it must return at once and never throw:
 * whatever it starts runs beside the job, not inside it.
 */
export interface QueuedWhileOfflineListener {
  queuedWhileOffline(agentContext: AgentContext, connectionId: string): void
}

/**
 * The queue Credo sees: the Redis pickup queue, plus a push to the wallet's live session right after a
 * message is queued. With it Credo's "queue only" forwarding strategy behaves like "queue and live
 * delivery" across the whole cluster, whichever worker processed the forward.
 */
export class DeliveringQueue implements DidCommQueueTransportRepository {
  public constructor(private readonly deps: DeliveringQueueDeps) {}

  public getAvailableMessageCount(agentContext: AgentContext, options: GetAvailableMessageCountOptions) {
    return this.deps.queue.getAvailableMessageCount(agentContext, options)
  }

  public takeFromQueue(agentContext: AgentContext, options: TakeFromQueueOptions): Promise<QueuedDidCommMessage[]> {
    return this.deps.queue.takeFromQueue(agentContext, { ...options, orderOwner: this.deps.jobScope?.currentMessageId() })
  }

  public removeMessages(agentContext: AgentContext, options: RemoveMessagesOptions) {
    return this.deps.queue.removeMessages(agentContext, options)
  }

  public async addMessage(agentContext: AgentContext, options: DeliveringAddOptions): Promise<string> {
    let queued: Awaited<ReturnType<LiveDelivery['addAndTake']>>
    try {
      // Queue, and take for the wallet's live session if it has one, in one round trip.
      // Keyed and ordered by the inbound job, the same on every attempt (see JobScope).
      queued = await this.deps.liveDelivery.addAndTake(agentContext, { ...options, ...this.deps.jobScope?.nextAdd() })
      if (options.settlesOrder) this.deps.jobScope?.settled()
    } catch (error) {
      if (error instanceof PickupQueueFullError) {
        // The relay acknowledged this message already; it is not dropped silently: the job fails
        // with this error and is kept in the dead letters, where an operator can replay it once the
        // wallet has drained its queue.
        this.deps.metrics.queueFull.inc()
        this.deps.logger.error(
          { connectionId: options.connectionId, limit: error.limit, limitKind: error.limitKind },
          'pickup queue full: message refused',
        )
      }
      throw error
    }
    const { id, due, live } = queued
    this.deps.metrics.messagesQueued.inc()
    if (due.length > 0) {
      // Other wallets' deliveries that waited for this message; the job waits for them as for its own.
      this.deps.backgroundWrites.track(this.deps.deliverDue(due, this.deps.logger), (error) =>
        this.deps.logger.warn({ err: error, connectionIds: due }, 'held deliveries failed'),
      )
    }
    if (!live) {
      this.deps.offlineListener?.queuedWhileOffline(agentContext, options.connectionId)
      return id
    }
    const log = this.deps.logger.child({ connectionId: options.connectionId, queuedMessageId: id })
    this.deps.backgroundWrites.track(
      this.deps.liveDelivery.deliverTaken(agentContext, options.connectionId, live, log, options.receivedAt?.getTime()),
      (error) => log.error({ err: error }, 'live delivery after queueing failed; the message stays queued'),
    )
    return id
  }
}
