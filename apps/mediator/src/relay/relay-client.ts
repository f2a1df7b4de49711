import { Agent as HttpAgent, request } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { internalApiPaths, isSocketGone, SendStatus } from '@mediator/contracts'
import type { RelayRegistry } from '@mediator/redis'

/**
 * What became of a write to a socket on a relay:
 * - `written`: the relay wrote it (HTTP 200).
 * - `gone`: the socket is closed or unknown, or the relay is dead. Queue the message, drop the session.
 * - `failed`: the relay is alive but could not write now (503 back-pressure/draining, timeout, 5xx).
 *   The socket may still be there: keep the session, keep the message queued.
 */
export type RelayWriteOutcome =
  | { outcome: 'written' }
  | { outcome: 'gone'; reason: string }
  | { outcome: 'failed'; reason: string; status?: number }

export interface RelayClientOptions {
  registry: RelayRegistry
  secret: string
  /** How long a relay's announced URL is reused before it is read from Redis again. */
  announcementCacheMs?: number
  timeoutMs?: number
}

/**
 * Workers' side of the relay internal API: write bytes to a socket that some relay holds, or close it.
 * Keep-alive connections per relay, so a forward costs one small request on a warm socket.
 */
export class RelayClient {
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 })
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 })
  private readonly urls = new Map<string, { url: string; at: number }>()
  private readonly cacheMs: number
  private readonly timeoutMs: number

  public constructor(private readonly options: RelayClientOptions) {
    this.cacheMs = options.announcementCacheMs ?? 5_000
    this.timeoutMs = options.timeoutMs ?? 5_000
  }

  public send(relayId: string, socketId: string, body: string): Promise<RelayWriteOutcome> {
    return this.call(relayId, internalApiPaths.send(socketId), body)
  }

  /** Closes a socket (WebSocket) or answers a held HTTP request with "no reply" (202, no body). */
  public disconnect(relayId: string, socketId: string): Promise<RelayWriteOutcome> {
    return this.call(relayId, internalApiPaths.disconnect(socketId), '')
  }

  public close(): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  private async call(relayId: string, path: string, body: string): Promise<RelayWriteOutcome> {
    const baseUrl = await this.resolve(relayId)
    if (!baseUrl) return { outcome: 'gone', reason: 'relay-unknown' }
    let status: number
    try {
      status = await this.post(new URL(path, baseUrl), body)
    } catch (error) {
      // Cannot reach the relay: dead (heartbeat expired) means gone, otherwise it is only slow.
      this.urls.delete(relayId)
      if (!(await this.options.registry.isAlive(relayId))) return { outcome: 'gone', reason: 'relay-dead' }
      return { outcome: 'failed', reason: (error as Error).message }
    }
    if (status === SendStatus.Written) return { outcome: 'written' }
    if (isSocketGone(status)) return { outcome: 'gone', reason: status === SendStatus.Gone ? 'socket-closed' : 'socket-unknown' }
    return { outcome: 'failed', reason: `relay answered ${status}`, status }
  }

  private async resolve(relayId: string): Promise<string | undefined> {
    const cached = this.urls.get(relayId)
    if (cached && Date.now() - cached.at < this.cacheMs) return cached.url
    const announcement = await this.options.registry.get(relayId)
    if (!announcement) {
      this.urls.delete(relayId)
      return undefined
    }
    this.urls.set(relayId, { url: announcement.internalUrl, at: Date.now() })
    return announcement.internalUrl
  }

  private post(url: URL, body: string): Promise<number> {
    const isHttps = url.protocol === 'https:'
    const send = isHttps ? httpsRequest : request
    return new Promise<number>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          timeout: this.timeoutMs,
          headers: {
            authorization: `Bearer ${this.options.secret}`,
            'content-type': 'application/didcomm-envelope-enc',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`relay call timed out after ${this.timeoutMs} ms`)))
      req.on('error', reject)
      req.end(body)
    })
  }
}
