import { randomUUID } from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import { INBOUND_JOB_VERSION } from '@mediator/contracts'
import type { InboundOrder, InboundQueue } from '@mediator/redis'
import type { Logger } from '@mediator/config'
import type { RelayConfig } from './config.js'
import type { RelayMetrics, RejectReason } from './metrics.js'
import type { RecentlyClosed } from './recently-closed.js'
import { inspectEnvelope } from './envelope.js'
import { NO_HEADERS, pickHeaders } from './headers.js'
import { takeToken } from './rate-limit.js'
import { addWithRetry, inboundAddInFlight, storeMessage } from './enqueue-retry.js'
import { HEARTBEAT_SLICES } from './heartbeat.js'
import { SocketTable } from './socket-table.js'

/** WebSocket close codes the relay uses, with the reason it gives. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
} as const

const PUBLIC_WS_PATHS = new Set(['/', '/ws'])

type PumpItem =
  | { kind: 'message'; messageId: string; receivedAt: number; payload: string; barrier: boolean }
  | { kind: 'closed'; at: number; code: number; reason: string }

/**
 * A wallet's socket with the little state the relay keeps for it, as plain fields on the ws object:
 * no per-socket closures, timers or side maps. Event handlers are shared by all sockets.
 */
export class RelaySocket extends WebSocket {
  public socketId = ''
  public headers: Readonly<Record<string, string>> = NO_HEADERS
  public tokens = 0
  public refilledAt = 0
  /** Cleared at each heartbeat sweep, set again by the pong. */
  public alive = true
  /** A job add for this socket is in flight; frames wait in `backlog`, the socket is paused. */
  public busy = false
  public backlog: PumpItem[] | null = null
  /** The relay closed this socket on purpose: ignore any frame still arriving. */
  public refused = false
  /** Why the relay ended the socket, reported in the socket-closed job when the peer gave none. */
  public endNote: string | null = null
  /**
   * A frame of it was handed to the store (stored or not). Only then can a worker hold anything for the socket (a live
   * session is registered from a message), so only then is its close worth a job.
   */
  public spoke = false
}

export type SendResult = 200 | 404 | 410 | 503

interface WsGatewayDeps {
  config: RelayConfig
  queue: InboundQueue
  order: InboundOrder
  metrics: RelayMetrics
  recentlyClosed: RecentlyClosed
  logger: Logger
  isDraining: () => boolean
}

/** Accepts WebSocket upgrades, turns frames into jobs in order, and writes to sockets on request. */
export class WsGateway {
  private readonly wss: WebSocketServer
  /** By id, in the heartbeat's slices. */
  private readonly sockets = new SocketTable<RelaySocket>(HEARTBEAT_SLICES)
  private activePumps = 0
  private idleWaiters: Array<() => void> = []
  // ws calls listeners with `this` = the socket, which is always a RelaySocket here (see `WebSocket` option).
  private readonly onMessage: (this: WebSocket, data: Buffer, isBinary: boolean) => void
  private readonly onClose: (this: WebSocket, code: number, reason: Buffer) => void
  private readonly onError: (this: WebSocket, err: Error & { code?: string }) => void
  private readonly onPong: (this: WebSocket) => void

  public constructor(private readonly deps: WsGatewayDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: deps.config.maxMessageBytes,
      WebSocket: RelaySocket,
    })
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the handlers below take `this` from ws
    const gateway = this
    this.onMessage = function (data, isBinary) {
      gateway.handleFrame(this as RelaySocket, data, isBinary)
    }
    this.onClose = function (code, reason) {
      gateway.handleClose(this as RelaySocket, code, reason)
    }
    this.onError = function (err) {
      gateway.handleError(this as RelaySocket, err)
    }
    this.onPong = function () {
      ;(this as RelaySocket).alive = true
    }
  }

  public get size(): number {
    return this.sockets.size
  }

  /** Whether the relay holds MAX_SOCKETS WebSockets: it takes no more until some close. */
  public isFull(): boolean {
    const max = this.deps.config.maxSockets
    return max !== undefined && this.sockets.size >= max
  }

  public has(socketId: string): boolean {
    return this.sockets.has(socketId)
  }

  /** The http server's 'upgrade' listener. */
  public handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignore)
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/'
    if (!PUBLIC_WS_PATHS.has(path)) {
      this.deps.metrics.rejected.inc({ transport: 'ws', reason: 'bad_upgrade' })
      return abortUpgrade(socket, 404, 'Not Found')
    }
    if (this.deps.isDraining()) {
      this.deps.metrics.rejected.inc({ transport: 'ws', reason: 'draining' })
      return abortUpgrade(socket, 503, 'Service Unavailable', this.deps.config.retryAfterSeconds)
    }
    if (this.isFull()) {
      this.deps.metrics.rejected.inc({ transport: 'ws', reason: 'full' })
      return abortUpgrade(socket, 503, 'Service Unavailable', this.deps.config.retryAfterSeconds)
    }
    // Shed load at the door: a socket accepted now would wait behind the adds in flight, and one whose
    // add outlasts WS_ENQUEUE_RETRY_MS is closed with 1013, and its wallet comes back with two more jobs.
    // In a reconnect storm that fed itself; refused, the wallet waits in its own backoff instead.
    if (this.activePumps >= this.deps.config.maxPendingAdds) {
      this.deps.metrics.rejected.inc({ transport: 'ws', reason: 'busy' })
      return abortUpgrade(socket, 503, 'Service Unavailable', this.deps.config.retryAfterSeconds)
    }
    // ws answers a malformed handshake (no key, wrong version, not GET) with 400 itself.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.handleOpen(ws as RelaySocket, req))
  }

  /** Writes `body` to the socket: a text frame when it is UTF-8 (a JSON envelope), binary otherwise. */
  public send(socketId: string, body: Buffer): SendResult {
    const ws = this.sockets.get(socketId)
    if (!ws) return this.deps.recentlyClosed.has(socketId) ? 410 : 404
    if (ws.readyState !== WebSocket.OPEN || ws.refused) return 410
    if (this.deps.isDraining()) return 503
    if (ws.bufferedAmount > this.deps.config.sendBufferLimitBytes) return 503
    // 200 once the frame is handed to the socket. Waiting for the kernel flush would make the caller
    // hang on a wallet that stopped reading, and a flush is no proof of delivery either (pickup acks are).
    ws.send(body, { binary: !isUtf8(body) })
    return 200
  }

  public disconnect(socketId: string, code: number, reason: string): 200 | 404 | 410 {
    const ws = this.sockets.get(socketId)
    if (!ws) return this.deps.recentlyClosed.has(socketId) ? 410 : 404
    if (ws.readyState !== WebSocket.OPEN) return 410
    ws.endNote = reason || 'closed by mediator'
    ws.close(code, reason)
    return 200
  }

  /** Heartbeat tick for one slice: terminate its sockets that missed their last ping, ping the rest. */
  public sweep(slice: number): void {
    for (const ws of this.sockets.inSlice(slice)) {
      // A socket paused for a job add reads nothing, its pong included: a slow Redis is not the
      // wallet's silence. Its pong is read once the add is done, and the next sweep judges it.
      if (!ws.alive && !ws.busy) {
        ws.endNote = 'heartbeat timeout'
        this.deps.metrics.heartbeatTerminations.inc()
        ws.terminate()
        continue
      }
      ws.alive = false
      if (ws.readyState === WebSocket.OPEN) ws.ping()
    }
    if (slice === 0) this.deps.recentlyClosed.prune()
  }

  /**
   * Drain: close every socket with 1001 so wallets reconnect to another relay, wait for the close
   * handshakes until `deadline`, then cut whatever is left.
   */
  public async closeAll(deadline: number): Promise<void> {
    for (const ws of this.sockets.values()) {
      ws.refused = true
      ws.endNote = 'relay shutting down'
      ws.close(CloseCode.GoingAway, 'relay shutting down')
      ws.resume()
    }
    while (this.sockets.size > 0 && Date.now() < deadline) await delay(25)
    for (const ws of this.sockets.values()) ws.terminate()
  }

  /**
   * The relay was taken for dead (its registration lapsed): workers may have dropped its sockets'
   * live sessions while the sockets stayed open, and a wallet whose session is gone gets nothing live
   * until it registers again. Closing with 1012 makes every wallet reconnect and register.
   */
  public closeForReregistration(): number {
    let closed = 0
    for (const ws of this.sockets.values()) {
      if (ws.readyState !== WebSocket.OPEN) continue
      ws.endNote = 'relay registration lapsed'
      ws.close(CloseCode.ServiceRestart, 'relay registration lapsed; reconnect')
      closed++
    }
    return closed
  }

  /** Resolves once no job add for any socket is in flight (or at `deadline`). */
  public async idle(deadline: number): Promise<void> {
    if (this.activePumps === 0) return
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      delay(Math.max(0, deadline - Date.now())),
    ])
  }

  public terminateAll(): void {
    for (const ws of this.sockets.values()) ws.terminate()
  }

  private handleOpen(ws: RelaySocket, req: IncomingMessage): void {
    ws.socketId = randomUUID()
    ws.headers = pickHeaders(req.headers, this.deps.config.forwardHeaders)
    ws.tokens = this.deps.config.rateLimitBurst
    ws.refilledAt = Date.now()
    this.sockets.set(ws.socketId, ws)
    this.deps.metrics.openSockets.inc()
    ws.on('message', this.onMessage)
    ws.on('close', this.onClose)
    ws.on('error', this.onError)
    ws.on('pong', this.onPong)
  }

  private handleFrame(ws: RelaySocket, data: Buffer, isBinary: boolean): void {
    if (ws.refused) return
    const { config } = this.deps
    if (!takeToken(ws, config.rateLimitPerSec, config.rateLimitBurst, Date.now())) {
      return this.refuse(ws, 'rate_limited', CloseCode.PolicyViolation, 'rate limit exceeded')
    }
    // Text frames were UTF-8-checked by ws; Credo sends binary frames, which we check here.
    if (isBinary && !isUtf8(data)) {
      return this.refuse(ws, 'invalid_utf8', CloseCode.InvalidPayload, 'message is not UTF-8')
    }
    const payload = data.toString('utf8')
    const envelope = inspectEnvelope(payload)
    if (!envelope.ok) return this.refuse(ws, 'not_envelope', CloseCode.InvalidPayload, envelope.problem)
    // An anoncrypted message (a forward) may be for any wallet: later deliveries wait for it.
    const barrier = envelope.alg !== 'Authcrypt'
    ws.spoke = true
    this.push(ws, { kind: 'message', messageId: randomUUID(), receivedAt: Date.now(), payload, barrier })
  }

  private handleClose(ws: RelaySocket, code: number, reason: Buffer): void {
    this.sockets.delete(ws.socketId)
    this.deps.recentlyClosed.add(ws.socketId)
    this.deps.metrics.openSockets.dec()
    // A socket that never spoke leaves nothing to clean up. In a reconnect storm most sockets are
    // such (given up on by their wallet before or right after the upgrade): a job for each would bury
    // the live-mode requests of the wallets that did reconnect.
    if (!ws.spoke) return
    const text = reason.length > 0 ? reason.toString('utf8') : (ws.endNote ?? '')
    this.push(ws, { kind: 'closed', at: Date.now(), code, reason: text })
  }

  private handleError(ws: RelaySocket, err: Error & { code?: string }): void {
    // ws closes the socket itself after a protocol error (1007 bad UTF-8, 1009 too big, 1002 ...).
    const reason: RejectReason =
      err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? 'too_large'
        : err.code === 'WS_ERR_INVALID_UTF8'
          ? 'invalid_utf8'
          : 'protocol_error'
    this.deps.metrics.rejected.inc({ transport: 'ws', reason })
    ws.endNote = err.message
    this.deps.logger.debug({ socketId: ws.socketId, err: err.message, code: err.code }, 'websocket error')
  }

  private refuse(ws: RelaySocket, reason: RejectReason, code: number, text: string): void {
    this.deps.metrics.rejected.inc({ transport: 'ws', reason })
    this.deps.logger.info({ socketId: ws.socketId, reason, code }, 'closing websocket')
    ws.refused = true
    ws.endNote = text
    ws.close(code, text.slice(0, 120))
    // Read on (frames are ignored now) so the peer's close frame arrives and the handshake completes.
    ws.resume()
  }

  /**
   * Per-socket ordered pump: one job add at a time per socket, the socket paused meanwhile, so frames
   * are stored in the order they arrived and a fast sender only ever waits on its own adds.
   */
  private push(ws: RelaySocket, item: PumpItem): void {
    if (ws.busy) {
      ;(ws.backlog ??= []).push(item)
      return
    }
    ws.busy = true
    if (ws.readyState === WebSocket.OPEN) ws.pause()
    this.activePumps++
    this.deps.metrics.pendingAdds.inc()
    void this.pump(ws, item)
  }

  private async pump(ws: RelaySocket, first: PumpItem): Promise<void> {
    let item: PumpItem | undefined = first
    while (item) {
      await this.store(ws, item)
      item = ws.backlog?.shift()
      if (ws.backlog?.length === 0) ws.backlog = null
    }
    ws.busy = false
    // Also while CLOSING: the peer's close frame must be read for the close handshake to finish.
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CLOSING) ws.resume()
    this.deps.metrics.pendingAdds.dec()
    if (--this.activePumps === 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /** Never throws: retries while Redis is away, then gives up on the socket with 1013. */
  private async store(ws: RelaySocket, item: PumpItem): Promise<void> {
    const { queue, config, metrics, logger } = this.deps
    const ref = { v: INBOUND_JOB_VERSION as typeof INBOUND_JOB_VERSION, relayId: config.relayId, socketId: ws.socketId, transport: 'ws' as const }
    if (item.kind === 'message' && ws.endNote === REDIS_GAVE_UP) {
      // Never acknowledged (the socket was paused), and Redis already failed for longer than we wait.
      metrics.rejected.inc({ transport: 'ws', reason: 'redis_unavailable' })
      return
    }
    const started = process.hrtime.bigint()
    // The socket is paused meanwhile, so a slow add holds nothing but this socket's own frames.
    const window = { retryForMs: config.wsEnqueueRetryMs, patienceMs: config.wsEnqueuePatienceMs }
    try {
      if (item.kind === 'message') {
        const job = {
          ...ref,
          kind: 'message',
          messageId: item.messageId,
          receivedAt: item.receivedAt,
          payload: item.payload,
          replyExpected: false,
          headers: ws.headers,
        } as const
        await storeMessage(this.deps.order, queue, job, item.barrier, window)
      } else {
        await addWithRetry(() => queue.addSocketClosed({ ...ref, kind: 'socket-closed', at: item.at, code: item.code, reason: item.reason }), {
          ...window,
          inFlight: inboundAddInFlight,
        })
      }
      if (item.kind === 'message') metrics.accepted.inc({ transport: 'ws' })
      metrics.jobAddSeconds.observe({ kind: item.kind }, Number(process.hrtime.bigint() - started) / 1e9)
    } catch (err) {
      logger.error({ socketId: ws.socketId, kind: item.kind, err: (err as Error).message }, 'could not store inbound job')
      if (item.kind === 'message') metrics.rejected.inc({ transport: 'ws', reason: 'redis_unavailable' })
      if (ws.readyState === WebSocket.OPEN) {
        ws.refused = true
        ws.endNote = REDIS_GAVE_UP
        ws.close(CloseCode.TryAgainLater, 'try again later')
      }
    }
  }
}

const REDIS_GAVE_UP = 'message store unavailable'

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function ignore(): void {}

function abortUpgrade(socket: Duplex, status: number, text: string, retryAfter?: number): void {
  const extra = retryAfter ? `Retry-After: ${retryAfter}\r\n` : ''
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`)
}
