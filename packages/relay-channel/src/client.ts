import WebSocket, { type RawData } from 'ws'
import { internalApiPaths } from '@mediator/contracts'
import { decodeReplies, MAX_BATCH_BYTES, RequestBatch, type OutgoingRequest } from './frames.js'

export interface RelayChannelOptions {
  /** The relay's internal base URL as it announces it (`http://…` or `https://…`). */
  url: string
  /** The internal shared secret, sent as `Authorization: Bearer …` on the upgrade. */
  secret: string
  /** How long a call may wait for its answer; past it the channel is dropped and opened again. */
  timeoutMs?: number
  maxBatchBytes?: number
}

/** Why a call got no status: the relay could not be reached, did not answer in time, or the channel closed. */
export class ChannelError extends Error {
  public constructor(
    public readonly kind: 'connect' | 'timeout' | 'closed',
    message: string,
  ) {
    super(message)
    this.name = 'ChannelError'
  }
}

interface Pending {
  resolve(status: number): void
  reject(error: Error): void
  deadline: number
}

type Call = { op: 'send'; socketId: string; body: string | Uint8Array } | { op: 'disconnect'; socketId: string; code: number; reason: string }

const MAX_REQUEST_ID = 0xffffffff

/**
 * A worker's end of the channel to one relay: one WebSocket, opened on first use and again after it
 * drops. Calls made in the same turn of the event loop leave in one message, and the relay answers
 * them in one. A call resolves with the status the internal API would give, or rejects with a
 * ChannelError when no status came (then the caller cannot know whether the write happened).
 */
export class RelayChannel {
  private socket: WebSocket | undefined
  private open = false
  private closed = false
  private readonly pending = new Map<number, Pending>()
  private outbox: RequestBatch[] = []
  private flushScheduled = false
  private nextRequestId = 1
  private deadlineTimer: NodeJS.Timeout | undefined
  private readonly timeoutMs: number
  private readonly maxBatchBytes: number
  private readonly channelUrl: string

  public constructor(private readonly options: RelayChannelOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000
    this.maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES
    this.channelUrl = new URL(internalApiPaths.channel, options.url.replace(/^http/, 'ws')).toString()
  }

  public get url(): string {
    return this.options.url
  }

  public send(socketId: string, body: string | Uint8Array): Promise<number> {
    return this.call({ op: 'send', socketId, body })
  }

  public disconnect(socketId: string, code = 1000, reason = ''): Promise<number> {
    return this.call({ op: 'disconnect', socketId, code, reason })
  }

  /** Fails every call still waiting and closes the connection; the channel cannot be used again. */
  public close(): void {
    this.closed = true
    this.fail(new ChannelError('closed', 'relay channel closed by the worker'))
  }

  private call(call: Call): Promise<number> {
    if (this.closed) return Promise.reject(new ChannelError('closed', 'relay channel closed by the worker'))
    const requestId = this.nextRequestId
    this.nextRequestId = requestId === MAX_REQUEST_ID ? 1 : requestId + 1
    const request = { ...call, requestId } as OutgoingRequest
    return new Promise<number>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, deadline: Date.now() + this.timeoutMs })
      if (!this.deadlineTimer) this.armDeadline(this.timeoutMs)
      this.enqueue(request)
    })
  }

  private enqueue(request: OutgoingRequest): void {
    const last = this.outbox.at(-1)
    if (!last || !last.addIfFits(request, this.maxBatchBytes)) this.outbox.push(batchOf(request))
    if (this.flushScheduled) return
    this.flushScheduled = true
    // setImmediate, not a microtask: deliveries finished by one read from Redis all land in one batch.
    setImmediate(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  private flush(): void {
    if (this.outbox.length === 0) return
    if (!this.open) {
      this.connect()
      return
    }
    const socket = this.socket
    if (!socket) return
    for (const batch of this.outbox) socket.send(batch.toBuffer())
    this.outbox = []
  }

  private connect(): void {
    if (this.socket || this.closed) return
    const socket = new WebSocket(this.channelUrl, {
      headers: { authorization: `Bearer ${this.options.secret}` },
      perMessageDeflate: false,
      handshakeTimeout: this.timeoutMs,
    })
    this.socket = socket
    let failure: ChannelError | undefined
    socket.on('open', () => {
      this.open = true
      this.flush()
    })
    socket.on('unexpected-response', (_request, response) => {
      failure = new ChannelError('connect', `relay refused the channel: HTTP ${response.statusCode ?? 0}`)
      socket.terminate()
    })
    socket.on('error', (error: Error) => {
      failure ??= new ChannelError(this.open ? 'closed' : 'connect', `relay channel: ${error.message}`)
    })
    socket.on('message', (data: RawData) => this.settle(data))
    socket.on('close', (code: number) => {
      if (this.socket !== socket) return
      this.socket = undefined
      const wasOpen = this.open
      this.open = false
      this.fail(failure ?? new ChannelError(wasOpen ? 'closed' : 'connect', `relay channel closed (${code})`))
    })
  }

  private settle(data: RawData): void {
    let replies
    try {
      replies = decodeReplies(data as Buffer)
    } catch (error) {
      this.fail(new ChannelError('closed', `relay channel: ${(error as Error).message}`))
      return
    }
    for (const { requestId, status } of replies) {
      const pending = this.pending.get(requestId)
      if (!pending) continue
      this.pending.delete(requestId)
      pending.resolve(status)
    }
  }

  /**
   * One timer for all calls: the oldest call is first in the map. A call past its deadline means the
   * relay stopped answering this connection, so every call on it fails and the next one reconnects.
   * The verdict waits for one pass of I/O first: after the process was paused (a long GC, a frozen
   * container) timers run before sockets are read, and answers already in the socket buffer must
   * settle their calls rather than be taken for silence. A write wrongly called failed is released
   * and delivered again.
   */
  private armDeadline(inMs: number): void {
    const timer = setTimeout(() => {
      setImmediate(() => {
        // A failure in between disarmed this timer, and a later call may have armed another.
        if (this.deadlineTimer !== timer) return
        this.deadlineTimer = undefined
        const oldest = this.pending.values().next()
        if (oldest.done) return
        const left = oldest.value.deadline - Date.now()
        if (left > 0) return this.armDeadline(left)
        this.fail(new ChannelError('timeout', `relay did not answer within ${this.timeoutMs} ms`))
      })
    }, inMs)
    timer.unref()
    this.deadlineTimer = timer
  }

  private fail(error: ChannelError): void {
    const socket = this.socket
    this.socket = undefined
    this.open = false
    this.outbox = []
    clearTimeout(this.deadlineTimer)
    this.deadlineTimer = undefined
    const waiting = [...this.pending.values()]
    this.pending.clear()
    for (const p of waiting) p.reject(error)
    if (socket) socket.terminate()
  }
}

function batchOf(request: OutgoingRequest): RequestBatch {
  const batch = new RequestBatch()
  batch.add(request)
  return batch
}
