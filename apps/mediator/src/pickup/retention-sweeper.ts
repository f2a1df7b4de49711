import type { Logger } from '@mediator/config'
import type { RedisPickupQueue } from '@mediator/redis'
import { Sweeper } from './periodic-task.js'

/**
 * Removes queued messages older than the retention period. Every worker runs it; sweeps of several
 * workers at once are harmless (each removal is one atomic script and is counted once, by whoever did
 * it, through the queue's onExpired callback).
 */
export class RetentionSweeper extends Sweeper {
  public constructor(
    private readonly queue: RedisPickupQueue,
    private readonly logger: Logger,
  ) {
    super('retention sweep', logger)
  }

  protected async pass(): Promise<void> {
    const { connections, expired } = await this.queue.purgeExpired()
    if (expired > 0) this.logger.warn({ connections, expired }, 'retention removed queued messages')
  }
}
