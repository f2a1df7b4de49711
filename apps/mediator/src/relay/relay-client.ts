import { isSocketGone, SendStatus } from '@mediator/contracts'
import type { RelayRegistry } from '@mediator/redis'
import { ChannelError, RelayChannel } from '@mediator/relay-channel'

/**
 * What became of a write to a socket on a relay:
 * - `written`: the relay wrote it (200).
 * - `gone`: the socket is closed or unknown, or the relay is dead. Queue the message, drop the session.
 * - `failed`: the relay is alive but did not write now (503 back-pressure/draining, 413), or gave no
 *   answer (`maybeWritten`: the call may have been written before the channel dropped or stalled).
 *   The socket may still be there: keep the session, keep the message queued.
 */
export type RelayWriteOutcome =
  | { outcome: 'written' }
  | { outcome: 'gone'; reason: string }
  | { outcome: 'failed'; reason: string; status?: number; maybeWritten?: boolean }

export interface RelayClientOptions {
  registry: RelayRegistry
  secret: string
  /** How long a relay's announcement is reused before it is read from Redis again. */
  announcementCacheMs?: number
  timeoutMs?: number
}

interface KnownRelay {
  channel: RelayChannel
  maxSendBytes: number | undefined
  readAt: number
}

/**
 * Workers' side of the relay internal API: write bytes to a socket that some relay holds, or close it.
 * Each relay is reached over one channel (a WebSocket on its internal port, see @mediator/relay-channel),
 * so a forward costs a frame in a batch rather than an HTTP request.
 */
export class RelayClient {
  private readonly relays = new Map<string, KnownRelay>()
  private readonly refreshing = new Map<string, Promise<KnownRelay | undefined>>()
  private readonly cacheMs: number
  private readonly timeoutMs: number

  public constructor(private readonly options: RelayClientOptions) {
    this.cacheMs = options.announcementCacheMs ?? 5_000
    this.timeoutMs = options.timeoutMs ?? 5_000
  }

  public async send(relayId: string, socketId: string, body: string): Promise<RelayWriteOutcome> {
    const relay = await this.resolve(relayId)
    if (!relay) return { outcome: 'gone', reason: 'relay-unknown' }
    if (relay.maxSendBytes !== undefined && exceeds(body, relay.maxSendBytes)) {
      return { outcome: 'failed', reason: `message exceeds the relay's ${relay.maxSendBytes} bytes`, status: SendStatus.TooLarge }
    }
    return this.outcome(relayId, relay, relay.channel.send(socketId, body))
  }

  /** Closes a socket (WebSocket) or answers a held HTTP request with "no reply" (202, no body). */
  public async disconnect(relayId: string, socketId: string): Promise<RelayWriteOutcome> {
    const relay = await this.resolve(relayId)
    if (!relay) return { outcome: 'gone', reason: 'relay-unknown' }
    return this.outcome(relayId, relay, relay.channel.disconnect(socketId))
  }

  public close(): void {
    for (const relay of this.relays.values()) relay.channel.close()
    this.relays.clear()
  }

  private async outcome(relayId: string, relay: KnownRelay, call: Promise<number>): Promise<RelayWriteOutcome> {
    let status: number
    try {
      status = await call
    } catch (error) {
      // No answer: dead (heartbeat expired) means gone, otherwise it is only slow or restarting.
      // Either way read its announcement again next time: it may have come back elsewhere.
      relay.readAt = 0
      if (!(await this.options.registry.isAlive(relayId))) return { outcome: 'gone', reason: 'relay-dead' }
      // A call that never reached a connection was not written; one that was sent may have been.
      const maybeWritten = !(error instanceof ChannelError && error.kind === 'connect')
      return { outcome: 'failed', reason: (error as Error).message, maybeWritten }
    }
    if (status === SendStatus.Written) return { outcome: 'written' }
    if (isSocketGone(status)) return { outcome: 'gone', reason: status === SendStatus.Gone ? 'socket-closed' : 'socket-unknown' }
    return { outcome: 'failed', reason: `relay answered ${status}`, status }
  }

  /** The relay's channel, from the cached announcement while it is fresh; concurrent refreshes share one read. */
  private resolve(relayId: string): KnownRelay | Promise<KnownRelay | undefined> {
    const known = this.relays.get(relayId)
    if (known && Date.now() - known.readAt < this.cacheMs) return known
    let refreshing = this.refreshing.get(relayId)
    if (!refreshing) {
      refreshing = this.refresh(relayId).finally(() => this.refreshing.delete(relayId))
      this.refreshing.set(relayId, refreshing)
    }
    return refreshing
  }

  private async refresh(relayId: string): Promise<KnownRelay | undefined> {
    const announcement = await this.options.registry.get(relayId)
    const known = this.relays.get(relayId)
    if (known && announcement && known.channel.url === announcement.internalUrl) {
      // Same address: keep the open channel.
      known.maxSendBytes = announcement.maxSendBytes
      known.readAt = Date.now()
      return known
    }
    // Withdrawn, or its id now names another address: calls still on the old channel fail (and are
    // judged by the relay's heartbeat), new ones go to the new address.
    known?.channel.close()
    this.relays.delete(relayId)
    if (!announcement) return undefined
    const channel = new RelayChannel({ url: announcement.internalUrl, secret: this.options.secret, timeoutMs: this.timeoutMs })
    const relay = { channel, maxSendBytes: announcement.maxSendBytes, readAt: Date.now() }
    this.relays.set(relayId, relay)
    return relay
  }
}

/**
 * Whether `body` is more than `maxBytes` in UTF-8. A UTF-16 code unit takes 1 to 3 bytes, so the length
 * settles most bodies without scanning them; only one near the limit is measured (a send is on the
 * forward path).
 */
function exceeds(body: string, maxBytes: number): boolean {
  if (body.length > maxBytes) return true
  if (body.length * 3 <= maxBytes) return false
  return Buffer.byteLength(body, 'utf8') > maxBytes
}
