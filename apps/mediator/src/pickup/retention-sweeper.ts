import type { Logger } from '@mediator/config'
import type { RedisPickupQueue } from '@mediator/redis'
import { PeriodicTask } from './periodic-task.js'

/**
 * Removes queued messages older than the retention period. Every worker runs it; sweeps of several
 * workers at once are harmless (each removal is one atomic script and is counted once, by whoever did
 * it, through the queue's onExpired callback).
 */
export class RetentionSweeper {
  private readonly task: PeriodicTask

  public constructor(
    private readonly queue: RedisPickupQueue,
    private readonly logger: Logger,
  ) {
    this.task = new PeriodicTask('retention sweep', () => this.sweepOnce(), logger)
  }

  public start(intervalMs: number): void {
    this.task.start(intervalMs)
  }

  public stop(): void {
    this.task.stop()
  }

  public async sweep(): Promise<void> {
    await this.task.runOnce()
  }

  private async sweepOnce(): Promise<void> {
    const { connections, expired } = await this.queue.purgeExpired()
    if (expired > 0) this.logger.warn({ connections, expired }, 'retention removed queued messages')
  }
}
