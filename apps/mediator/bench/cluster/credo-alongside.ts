import {
  DidCommBasicMessageEventTypes,
  DidCommBasicMessageRole,
  type DidCommBasicMessageStateChangedEvent,
} from '@credo-ts/didcomm'
import { startSender, startWallet, type TestSender, type TestWallet } from '../../test/support/agents.js'
import { percentile, round } from '../support/percentile.js'

export interface CredoFigures {
  wallets: number
  sent: number
  received: number
  p50_ms: number
  p99_ms: number
}

/**
 * A few real Credo wallets (mediation recipients in pickup v2 live mode, through the balancer) and a
 * real Credo sender, sending each wallet a basic message every second while the load runs: what a
 * real client sees next to the lightweight ones. Latency: from the send until the wallet's agent has
 * the message.
 */
export class CredoAlongside {
  private readonly sentAt = new Map<string, number>()
  private readonly received: Array<{ sentAt: number; latency: number }> = []
  private timer?: NodeJS.Timeout
  private n = 0

  private constructor(
    private readonly wallets: TestWallet[],
    private readonly sender: TestSender,
    private readonly connectionIds: string[],
  ) {}

  public static async start(invitationUrl: string, count: number): Promise<CredoAlongside> {
    const sender = await startSender('alongside')
    const wallets: TestWallet[] = []
    const connectionIds: string[] = []
    for (let i = 0; i < count; i++) {
      const wallet = await startWallet(`alongside_${i}`)
      const { mediation } = await wallet.obtainMediation(invitationUrl)
      await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
      connectionIds.push((await sender.connectTo(wallet)).id)
      wallets.push(wallet)
    }
    const alongside = new CredoAlongside(wallets, sender, connectionIds)
    for (const wallet of wallets) {
      wallet.agent.events.on<DidCommBasicMessageStateChangedEvent>(DidCommBasicMessageEventTypes.DidCommBasicMessageStateChanged, (e) => {
        if (e.payload.basicMessageRecord.role !== DidCommBasicMessageRole.Receiver) return
        const at = alongside.sentAt.get(e.payload.message.content)
        if (at === undefined) return
        alongside.sentAt.delete(e.payload.message.content)
        alongside.received.push({ sentAt: at, latency: performance.timeOrigin + performance.now() - at })
      })
    }
    return alongside
  }

  /** One message to each wallet every second until `stop()`. */
  public run(): void {
    this.timer = setInterval(() => {
      for (const connectionId of this.connectionIds) {
        const content = `alongside ${this.n++}`
        this.sentAt.set(content, performance.timeOrigin + performance.now())
        this.sender.agent.didcomm.basicMessages.sendMessage(connectionId, content).catch(() => this.sentAt.delete(content))
      }
    }, 1_000)
  }

  /** What was sent in [from, to) and how fast it arrived. */
  public figures(from: number, to: number): CredoFigures {
    const inWindow = this.received.filter((r) => r.sentAt >= from && r.sentAt < to)
    const pendingInWindow = [...this.sentAt.values()].filter((t) => t >= from && t < to).length
    const latencies = inWindow.map((r) => r.latency).sort((a, b) => a - b)
    return {
      wallets: this.wallets.length,
      sent: inWindow.length + pendingInWindow,
      received: inWindow.length,
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
    }
  }

  public async stop(): Promise<void> {
    clearInterval(this.timer)
    await new Promise((r) => setTimeout(r, 3_000))
    for (const wallet of this.wallets) await wallet.close().catch(() => undefined)
    await this.sender.close().catch(() => undefined)
  }
}
