import { randomUUID } from 'node:crypto'
import { WebSocket, type RawData } from 'ws'
import {
  EnvelopePacker,
  PeerKeyCache,
  openEnvelopeBody,
  openSenderKey,
  readProtectedHeader,
  type EnvelopeJson,
} from '../src/forward/index.js'
import type { BenchWallet } from './wallet-setup.js'
import { AckTicker, type AckFlushable } from './ack-ticker.js'

const PICKUP = 'https://didcomm.org/messagepickup/2.0'

interface DeliveryJson {
  '@type': string
  '~thread'?: { thid?: string }
  '~attach'?: Array<{ '@id': string; data?: { json?: { tag?: unknown } } }>
}

/** The keys a wallet's pickup session speaks with (a BenchWallet has them, and so does a load process). */
export type WalletKeys = Pick<BenchWallet, 'label' | 'kms' | 'ctx' | 'ourKey' | 'mediatorKey'>

export interface WalletClientOptions {
  /** Source address of the socket (127.0.0.x): each address has its own ~28,000 ephemeral ports. */
  localAddress?: string
  /** One cache for many clients of one process (their mediator keys are the same). */
  peers?: PeerKeyCache
  /** Reconnect (and turn live mode on again) when the socket closes without `close()`, as a wallet app does. */
  reconnect?: boolean
  /** Every live-mode confirmation (the mediator's status), the first and each after a reconnect. */
  onLive?: () => void
  /** A socket this client did not close went away. */
  onDropped?: () => void
  /**
   * How each attempt to be live ended when it did not: refused by HTTP status, a transport error, or
   * the socket closed (with its close code) before or after live mode. What a storm is made of.
   */
  onOutcome?: (outcome: string) => void
  /**
   * The pickup message ids of a messages-received, once the mediator answered it (its status names the
   * confirmation as thread): from then on the mediator has processed it and must not deliver them again.
   */
  onConfirmed?: (messageIds: string[]) => void
}

const RECONNECT_BASE_MS = 250
const RECONNECT_MAX_MS = 5_000

/**
 * A wallet's live pickup session as a raw WebSocket, cheap enough to run many in the load process:
 * it turns live mode on (pickup v2 live-delivery-change with return route), opens every delivery
 * with the wallet's KMS, reports each delivered message by the `tag` of its (still encrypted) inner
 * envelope and its pickup message id, and confirms deliveries with messages-received, batched every
 * `ackIntervalMs` at a phase of its own (one `AckTicker` per process serves every client). The socket
 * answers the relay's pings (ws does that by itself), as Credo's does.
 */
export class WalletClient implements AckFlushable {
  private socket?: WebSocket
  private readonly packer: EnvelopePacker
  private readonly peers: PeerKeyCache
  private pendingAcks: string[] = []
  private readonly acks: AckTicker
  private readonly ackPhase: number
  private live?: () => void
  private liveRequestId?: string
  /** messages-received sent and not yet answered: their ids, by the message's @id. */
  private readonly unanswered = new Map<string, string[]>()
  private closing = false
  private readonly droppedSockets = new WeakSet<WebSocket>()
  private reconnects = 0
  public deliveries = 0
  public errors = 0
  /** Where the client is: opening a socket, waiting for live mode's status, live, or waiting to reconnect. */
  public phase: 'connecting' | 'awaiting-status' | 'live' | 'backing-off' | 'closed' = 'connecting'

  public constructor(
    private readonly wallet: WalletKeys,
    private readonly wsUrl: string,
    private readonly onDelivered: (innerTag: string, messageId: string) => void,
    ackIntervalMs: number,
    private readonly options: WalletClientOptions = {},
  ) {
    this.peers = options.peers ?? new PeerKeyCache()
    this.acks = AckTicker.for(ackIntervalMs)
    this.ackPhase = this.acks.phase()
    this.packer = new EnvelopePacker(wallet.kms, this.peers)
  }

  /**
   * Connects and resolves once the mediator acknowledged live mode (its status message). The first
   * connect gives up after 60 s (a setup that does not work); a reconnect waits as long as its socket
   * stays open, as Credo's mediation recipient does: it never times out its pickup request, so a wallet
   * that reconnected while the mediator is busy adds no second request to the backlog.
   */
  public async connect(): Promise<void> {
    const first = this.liveRequestId === undefined
    this.phase = 'connecting'
    const socket = new WebSocket(this.wsUrl, { perMessageDeflate: false, localAddress: this.options.localAddress, handshakeTimeout: 30_000 })
    this.socket = socket
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', (error) => {
        this.options.onOutcome?.(connectFailure(error))
        reject(error)
      })
    })
    socket.on('error', () => this.errors++)
    // Registered before the listener that starts the reconnect, so the phase is still this socket's.
    socket.once('close', (code: number) => {
      if (!this.closing) this.options.onOutcome?.(`closed ${this.phase === 'live' ? 'after' : 'before'} live ${code}`)
    })
    socket.on('message', (data: RawData) => {
      this.receive(data).catch(() => this.errors++)
    })
    socket.once('close', () => this.dropped(socket))
    this.phase = 'awaiting-status'
    const live = new Promise<void>((resolve) => (this.live = resolve))
    this.liveRequestId = randomUUID()
    this.unanswered.clear()
    await this.send({
      '@type': `${PICKUP}/live-delivery-change`,
      '@id': this.liveRequestId,
      live_delivery: true,
      '~transport': { return_route: 'all' },
    })
    let timer: NodeJS.Timeout | undefined
    const closed = new Promise((_, reject) => socket.once('close', () => reject(new Error(`${this.wallet.label}: socket closed before live mode`))))
    // It also rejects when the socket closes long after live mode was on; nobody waits for it then.
    closed.catch(() => undefined)
    const timeout = new Promise((_, reject) => {
      if (first) timer = setTimeout(() => reject(new Error(`${this.wallet.label}: no live-mode status`)), 60_000)
    })
    await Promise.race([live, closed, timeout]).finally(() => clearTimeout(timer))
    this.phase = 'live'
    this.reconnects = 0
  }

  /** The ticker reached this client's phase: confirm what was delivered since the last time. */
  public flushDueAcks(): void {
    if (this.closing) return
    void this.flushAcks()
    // Not sent (the socket is between connections): try again at the next round, as the timer did.
    if (this.pendingAcks.length > 0) this.acks.schedule(this, this.ackPhase)
  }

  public async close(): Promise<void> {
    this.closing = true
    this.phase = 'closed'
    await this.flushAcks()
    this.socket?.close(1000)
  }

  /** Drops the socket without a close handshake (what a crashed app or a lost network does). */
  public terminate(): void {
    this.closing = true
    this.phase = 'closed'
    this.socket?.terminate()
  }

  private dropped(socket: WebSocket): void {
    if (this.closing || socket !== this.socket || this.droppedSockets.has(socket)) return
    // A socket is given up once: by its close, or by a connect that failed (then it is ended here).
    this.droppedSockets.add(socket)
    socket.terminate()
    this.options.onDropped?.()
    if (!this.options.reconnect) {
      this.phase = 'closed'
      return
    }
    // What was delivered but not yet confirmed on the old socket is delivered again on the new one.
    this.pendingAcks = []
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** this.reconnects++) * (0.5 + Math.random())
    this.phase = 'backing-off'
    setTimeout(() => {
      if (this.closing) return
      this.connect().catch(() => {
        this.errors++
        if (this.socket) this.dropped(this.socket)
      })
    }, delay)
  }

  private async receive(data: RawData): Promise<void> {
    const envelope = JSON.parse(data.toString()) as EnvelopeJson
    const recipient = readProtectedHeader(envelope)?.recipients.find((r) => r.header.kid === this.wallet.ourKey.publicKey)
    if (!recipient) throw new Error('not for us')
    const { kms, ctx, ourKey } = this.wallet
    const sender = await openSenderKey(kms, ctx, recipient, ourKey.keyId)
    const body = await openEnvelopeBody(kms, ctx, envelope, recipient, ourKey.keyId, this.peers.get(sender).x25519)
    const message = JSON.parse(Buffer.from(body).toString('utf8')) as DeliveryJson
    if (message['@type'] === `${PICKUP}/status`) {
      const thread = message['~thread']?.thid
      const confirmed = thread === undefined ? undefined : this.unanswered.get(thread)
      if (confirmed && thread !== undefined) {
        this.unanswered.delete(thread)
        this.options.onConfirmed?.(confirmed)
      } else if (this.live && (thread === undefined || thread === this.liveRequestId)) {
        const live = this.live
        this.live = undefined
        live()
        this.options.onLive?.()
      }
    }
    if (message['@type'] !== `${PICKUP}/delivery`) return
    this.deliveries++
    for (const attachment of message['~attach'] ?? []) {
      this.pendingAcks.push(attachment['@id'])
      this.acks.schedule(this, this.ackPhase)
      const tag = attachment.data?.json?.tag
      if (typeof tag === 'string') this.onDelivered(tag, attachment['@id'])
    }
  }

  private async flushAcks(): Promise<void> {
    if (this.pendingAcks.length === 0 || this.socket?.readyState !== WebSocket.OPEN) return
    const ids = this.pendingAcks.splice(0)
    // Return route, as a Credo wallet without an endpoint of its own sets it: the mediator's status
    // answer comes back on this socket instead of being queued as one more message to deliver.
    const ack = { '@type': `${PICKUP}/messages-received`, '@id': randomUUID(), message_id_list: ids, '~transport': { return_route: 'all' } }
    this.unanswered.set(ack['@id'], ids)
    try {
      await this.send(ack)
    } catch {
      this.unanswered.delete(ack['@id'])
      this.errors++
    }
  }

  private async send(message: object): Promise<void> {
    const packed = await this.packer.pack(this.wallet.ctx, message, {
      recipientKeys: [this.wallet.mediatorKey],
      sender: this.wallet.ourKey,
    })
    const socket = this.socket
    if (socket?.readyState !== WebSocket.OPEN) throw new Error('socket not open')
    await new Promise<void>((resolve, reject) => socket.send(JSON.stringify(packed), (error) => (error ? reject(error) : resolve())))
  }
}

/** A failed WebSocket connect in a few words: `refused 503`, `handshake timeout`, `ECONNRESET`. */
/**
 * Why a first connect was given up, in a few words shared by many wallets (the report counts them):
 * the socket's own failure to open, or what happened to it afterwards.
 */
export function connectFailureKind(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  if (message.endsWith('socket closed before live mode')) return 'closed before live'
  if (message.endsWith('no live-mode status')) return 'no live-mode status in 60 s'
  return error instanceof Error ? connectFailure(error) : 'connect error'
}

function connectFailure(error: Error & { code?: string }): string {
  const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1]
  if (status) return `refused ${status}`
  if (/handshake has timed out/i.test(error.message)) return 'handshake timeout'
  return error.code ?? 'connect error'
}
