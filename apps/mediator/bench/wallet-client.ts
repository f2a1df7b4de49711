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

const PICKUP = 'https://didcomm.org/messagepickup/2.0'

interface DeliveryJson {
  '@type': string
  '~attach'?: Array<{ '@id': string; data?: { json?: { tag?: unknown } } }>
}

/**
 * A wallet's live pickup session as a raw WebSocket, cheap enough to run many in the load process:
 * it turns live mode on (pickup v2 live-delivery-change with return route), opens every delivery
 * with the wallet's KMS, reports each delivered message by the `tag` of its (still encrypted) inner
 * envelope, and confirms deliveries with messages-received, batched every `ackIntervalMs`.
 */
export class WalletClient {
  private socket?: WebSocket
  private readonly packer: EnvelopePacker
  private readonly peers = new PeerKeyCache()
  private pendingAcks: string[] = []
  private ackTimer?: NodeJS.Timeout
  private live?: () => void
  public deliveries = 0
  public errors = 0

  public constructor(
    private readonly wallet: BenchWallet,
    private readonly wsUrl: string,
    private readonly onDelivered: (innerTag: string) => void,
    private readonly ackIntervalMs: number,
  ) {
    this.packer = new EnvelopePacker(wallet.kms, this.peers)
  }

  /** Connects and resolves once the mediator acknowledged live mode (its status message). */
  public async connect(): Promise<void> {
    const socket = new WebSocket(this.wsUrl)
    this.socket = socket
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    socket.on('message', (data: RawData) => {
      this.receive(data).catch(() => this.errors++)
    })
    const live = new Promise<void>((resolve) => (this.live = resolve))
    await this.send({
      '@type': `${PICKUP}/live-delivery-change`,
      '@id': randomUUID(),
      live_delivery: true,
      '~transport': { return_route: 'all' },
    })
    await Promise.race([
      live,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${this.wallet.label}: no live-mode status`)), 20_000)),
    ])
    // Independent wallets do not confirm in step: a random phase keeps acks from arriving in bursts.
    this.ackTimer = setTimeout(() => {
      this.ackTimer = setInterval(() => void this.flushAcks(), this.ackIntervalMs)
    }, Math.random() * this.ackIntervalMs)
  }

  public async close(): Promise<void> {
    clearTimeout(this.ackTimer)
    clearInterval(this.ackTimer)
    await this.flushAcks()
    this.socket?.close(1000)
  }

  private async receive(data: RawData): Promise<void> {
    const envelope = JSON.parse(data.toString()) as EnvelopeJson
    const recipient = readProtectedHeader(envelope)?.recipients.find((r) => r.header.kid === this.wallet.ourKey.publicKey)
    if (!recipient) throw new Error('not for us')
    const { kms, ctx, ourKey } = this.wallet
    const sender = await openSenderKey(kms, ctx, recipient, ourKey.keyId)
    const body = await openEnvelopeBody(kms, ctx, envelope, recipient, ourKey.keyId, this.peers.get(sender).x25519)
    const message = JSON.parse(Buffer.from(body).toString('utf8')) as DeliveryJson
    if (message['@type'] === `${PICKUP}/status`) this.live?.()
    if (message['@type'] !== `${PICKUP}/delivery`) return
    this.deliveries++
    for (const attachment of message['~attach'] ?? []) {
      this.pendingAcks.push(attachment['@id'])
      const tag = attachment.data?.json?.tag
      if (typeof tag === 'string') this.onDelivered(tag)
    }
  }

  private async flushAcks(): Promise<void> {
    if (this.pendingAcks.length === 0 || this.socket?.readyState !== WebSocket.OPEN) return
    const ids = this.pendingAcks.splice(0)
    // Return route, as a Credo wallet without an endpoint of its own sets it: the mediator's status
    // answer comes back on this socket instead of being queued as one more message to deliver.
    const ack = { '@type': `${PICKUP}/messages-received`, '@id': randomUUID(), message_id_list: ids, '~transport': { return_route: 'all' } }
    await this.send(ack).catch(
      () => this.errors++,
    )
  }

  private async send(message: object): Promise<void> {
    const packed = await this.packer.pack(this.wallet.ctx, message, {
      recipientKeys: [this.wallet.mediatorKey],
      sender: this.wallet.ourKey,
    })
    this.socket?.send(JSON.stringify(packed))
  }
}
