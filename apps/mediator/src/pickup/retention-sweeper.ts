import type { Logger } from '@mediator/config'
import type { RedisPickupQueue } from '@mediator/redis'

/**
 * Removes queued messages older than the retention period. Every worker runs it; sweeps of several
 * workers at once are harmless (each removal is one atomic script and is counted once, by whoever did
 * it, through the queue's onExpired callback).
 */
export class RetentionSweeper {
  private timer?: NodeJS.Timeout

  public constructor(
    private readonly queue: RedisPickupQueue,
    private readonly logger: Logger,
  ) {}

  public start(intervalMs: number): void {
    this.timer = setInterval(() => void this.sweep(), intervalMs)
    this.timer.unref()
  }

  public stop(): void {
    clearInterval(this.timer)
  }

  public async sweep(): Promise<void> {
    try {
      const { connections, expired } = await this.queue.purgeExpired()
      if (expired > 0) this.logger.warn({ connections, expired }, 'retention removed queued messages')
    } catch (error) {
      this.logger.warn({ err: error }, 'retention sweep failed')
    }
  }
}
