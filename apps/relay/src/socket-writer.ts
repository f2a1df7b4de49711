import type { Counter } from 'prom-client'
import type { Logger } from '@mediator/config'
import type { ChannelOperations } from '@mediator/relay-channel'
import type { HeldRequests } from './held-requests.js'
import type { RelayMetrics } from './metrics.js'
import type { WsGateway } from './ws-gateway.js'
import { REPLY_CONTENT_TYPE } from './public-routes.js'

/**
 * What a worker's send or disconnect does on this relay, whichever way it arrived (the internal HTTP
 * API or a channel): a held HTTP request is answered, a WebSocket is written to or closed. Returns the
 * internal API status and counts it.
 */
export class SocketWriter implements ChannelOperations {
  // prom-client resolves label values on every inc(); one child per op and status skips that.
  private readonly counted = new Map<string, Counter.Internal>()

  public constructor(
    private readonly gateway: WsGateway,
    private readonly held: HeldRequests,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
  ) {}

  public send(socketId: string, body: Buffer): number {
    let status: number
    if (this.held.has(socketId)) {
      // A held request is answered even while draining: its client is waiting right now.
      status = this.held.answer(socketId, { kind: 'reply', body, contentType: REPLY_CONTENT_TYPE }) ? 200 : 410
    } else {
      status = this.gateway.send(socketId, body)
    }
    this.count('send', status)
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ socketId, status, bytes: body.length }, 'send')
    return status
  }

  public disconnect(socketId: string, code: number, reason: string): number {
    const status = this.held.has(socketId)
      ? this.held.answer(socketId, { kind: 'no-reply' })
        ? 200
        : 410
      : this.gateway.disconnect(socketId, code, reason)
    this.count('disconnect', status)
    return status
  }

  /** Counts a call that was answered before it reached a socket (bad input, refused auth). */
  public count(op: string, status: number): void {
    const key = `${op} ${status}`
    let child = this.counted.get(key)
    if (!child) {
      child = this.metrics.sendResults.labels({ op, status: String(status) })
      this.counted.set(key, child)
    }
    child.inc()
  }
}
