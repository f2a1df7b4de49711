import type { AgentContext } from '@credo-ts/core'
import type { Logger } from '@mediator/config'
import type { RedisPickupQueue } from '@mediator/redis'
import type { MediatorMetrics } from '../metrics.js'
import type { LiveDelivery } from './live-delivery.js'
import { Sweeper } from './periodic-task.js'

/**
 * Brings back messages whose delivery was never confirmed. A lease runs out when the worker that took
 * the messages died before sending, when the relay gave no answer, or when the wallet never confirmed;
 * a take would make them available again, but a wallet in live mode sends nothing until it has
 * something to say, so without this sweep it would wait for its next message or reconnect. Every
 * worker runs it; two sweeps at once are harmless (each connection's requeue is atomic, the second
 * finds nothing due, and a delivery takes under a lease).
 */
export class LeaseSweeper extends Sweeper<number> {
  public constructor(
    private readonly queue: RedisPickupQueue,
    private readonly delivery: LiveDelivery,
    private readonly agentContext: AgentContext,
    private readonly metrics: MediatorMetrics,
    private readonly logger: Logger,
  ) {
    super('lease sweep', logger)
  }

  /** One pass; returns how many connections got a delivery written. */
  protected async pass(): Promise<number> {
    const due = await this.queue.requeueExpiredLeases()
    let written = 0
    for (const { connectionId, requeued } of due) {
      this.metrics.leasesRunOut.inc(requeued)
      const log = this.logger.child({ connectionId })
      const outcome = await this.delivery.deliverQueued(this.agentContext, connectionId, log)
      if (outcome === 'written') written++
      log.info({ requeued, outcome }, 'leases ran out, messages available again')
    }
    return written
  }
}
