import type { AgentContext } from '@credo-ts/core'
import type { Logger } from '@mediator/config'
import type { FinishResult, InboundOrder } from '@mediator/redis'
import type { MediatorMetrics } from '../metrics.js'
import type { LiveDelivery } from './live-delivery.js'
import { Sweeper } from './periodic-task.js'

/**
 * Makes the live deliveries that waited for an earlier inbound message (see InboundOrder). When a job
 * ends it gives up its place in the order, and this delivers to the connections that have become due
 * (a forward on the fast path gives its place up with its queue add instead, which hands the due
 * connections to `deliverDue`). Every worker also checks periodically, so that a hold that ran out
 * (the message's worker died) releases deliveries even when nothing else finishes.
 */
export class HeldDeliveries extends Sweeper<number> {
  public constructor(
    private readonly order: InboundOrder,
    private readonly delivery: LiveDelivery,
    private readonly agentContext: AgentContext,
    private readonly metrics: MediatorMetrics,
    private readonly logger: Logger,
  ) {
    super('held delivery check', logger)
  }

  /**
   * A job ended: delivers what waited for it. Never throws: the job's own work is done, and what is
   * not delivered now stays queued (back on the deferred list, or behind a hold that runs out).
   */
  public async finish(messageId: string, log: Logger): Promise<void> {
    try {
      await this.deliver(await this.order.finish(messageId), log)
    } catch (error) {
      log.warn({ err: error }, 'held deliveries: ending the job\'s place in the order failed; it runs out instead')
    }
  }

  /** Delivers to connections already taken off the deferred list (by a settling add). Never throws. */
  public async deliverDue(due: readonly string[], log: Logger): Promise<void> {
    if (due.length === 0) return
    try {
      await this.deliver({ dropped: 0, due: [...due] }, log)
    } catch (error) {
      log.warn({ err: error, connectionIds: due }, 'held deliveries failed; they wait for the next check')
    }
  }

  /** The periodic check (every half hold); returns how many connections got a delivery written. */
  protected async pass(): Promise<number> {
    return this.deliver(await this.order.finish(), this.logger)
  }

  private async deliver({ dropped, due }: FinishResult, log: Logger): Promise<number> {
    if (dropped > 0) {
      this.metrics.orderHoldExpired.inc(dropped)
      log.warn(
        { dropped, holdMs: this.order.holdMs },
        'messages in process held later deliveries back past the order hold; deliveries no longer wait for them',
      )
    }
    if (due.length === 0) return 0
    const outcomes = await Promise.allSettled(
      due.map((connectionId) => this.delivery.deliverQueued(this.agentContext, connectionId, log.child({ connectionId }))),
    )
    const failed = due.filter((_, i) => outcomes[i]?.status === 'rejected')
    if (failed.length > 0) {
      log.warn({ connectionIds: failed }, 'held deliveries failed; they wait for the next check')
      await this.order.defer(failed)
    }
    return outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'written').length
  }
}
