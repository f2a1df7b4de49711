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
  public constructor(
    private readonly queue: RedisPickupQueue,
    private readonly liveDelivery: LiveDelivery,
    private readonly backgroundWrites: BackgroundWrites,
    private readonly metrics: MediatorMetrics,
    private readonly logger: Logger,
    private readonly jobScope?: JobScope,
    private readonly offlineListener?: QueuedWhileOfflineListener,
  ) {}

  public getAvailableMessageCount(agentContext: AgentContext, options: GetAvailableMessageCountOptions) {
    return this.queue.getAvailableMessageCount(agentContext, options)
  }

  public takeFromQueue(agentContext: AgentContext, options: TakeFromQueueOptions): Promise<QueuedDidCommMessage[]> {
    return this.queue.takeFromQueue(agentContext, { ...options, orderOwner: this.jobScope?.currentMessageId() })
  }

  public removeMessages(agentContext: AgentContext, options: RemoveMessagesOptions) {
    return this.queue.removeMessages(agentContext, options)
  }

  public async addMessage(agentContext: AgentContext, options: AddMessageOptions): Promise<string> {
    let queued: Awaited<ReturnType<LiveDelivery['addAndTake']>>
    try {
      // Queue, and take for the wallet's live session if it has one, in one round trip.
      // Keyed and ordered by the inbound job, the same on every attempt (see JobScope).
      queued = await this.liveDelivery.addAndTake(agentContext, { ...options, ...this.jobScope?.nextAdd() })
    } catch (error) {
      if (error instanceof PickupQueueFullError) {
        // The relay acknowledged this message already; it is not dropped silently: the job fails
        // with this error and is kept in the dead letters, where an operator can replay it once the
        // wallet has drained its queue.
        this.metrics.queueFull.inc()
        this.logger.error(
          { connectionId: options.connectionId, limit: error.limit, limitKind: error.limitKind },
          'pickup queue full: message refused',
        )
      }
      throw error
    }
    const { id, live } = queued
    this.metrics.messagesQueued.inc()
    if (!live) {
      this.offlineListener?.queuedWhileOffline(agentContext, options.connectionId)
      return id
    }
    const log = this.logger.child({ connectionId: options.connectionId, queuedMessageId: id })
    this.backgroundWrites.track(
      this.liveDelivery.deliverTaken(agentContext, options.connectionId, live, log, options.receivedAt?.getTime()),
      (error) => log.error({ err: error }, 'live delivery after queueing failed; the message stays queued'),
    )
    return id
  }
}
