import type { Logger } from '@mediator/config'
import type { LiveSessionDirectory, RedisPickupQueue, RelayProbe, RelayRegistry } from '@mediator/redis'
import type { SocketCloseHandler } from '../inbound/job-processor.js'

/**
 * Cleans up after wallets that went away: a closed socket (reported by its relay) and a dead relay
 * (its heartbeat expired without a goodbye, and it does not answer the probe) both end the live
 * sessions that pointed there, and the messages that were delivered but not confirmed become
 * available again at once, so a wallet that reconnects elsewhere gets them on its first pickup.
 */
export class SocketLifecycle implements SocketCloseHandler {
  private reaper?: NodeJS.Timeout

  public constructor(
    private readonly directory: LiveSessionDirectory,
    private readonly queue: RedisPickupQueue,
    private readonly registry: RelayRegistry,
    private readonly logger: Logger,
    /** Asked before a relay whose heartbeat expired is declared dead (a late relay is not a dead one). */
    private readonly probe?: RelayProbe,
  ) {}

  public async socketClosed(relayId: string, socketId: string, log: Logger): Promise<void> {
    const connectionIds = await this.directory.removeSocket(relayId, socketId)
    for (const connectionId of connectionIds) await this.queue.releaseInFlight(connectionId)
    if (connectionIds.length > 0) log.info({ connectionIds }, 'live sessions ended with their socket')
  }

  /** Looks for dead relays every `intervalMs` (every worker does; the cleanup is idempotent). */
  public startRelayReaper(intervalMs: number): void {
    this.reaper = setInterval(() => {
      this.reapDeadRelays().catch((error) => this.logger.warn({ err: error }, 'dead relay sweep failed'))
    }, intervalMs)
    this.reaper.unref()
  }

  public stopRelayReaper(): void {
    clearInterval(this.reaper)
  }

  public async reapDeadRelays(): Promise<string[]> {
    const dead = await this.registry.pruneDead(this.probe)
    for (const relayId of dead) {
      const removed = await this.directory.removeRelay(relayId)
      this.logger.warn({ relayId, removed }, 'relay declared dead, its live sessions dropped')
    }
    return dead
  }
}
