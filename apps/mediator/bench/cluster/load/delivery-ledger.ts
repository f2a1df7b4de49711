import type { LoadEvents } from './protocol.js'

interface Sent {
  at: number
  /** Acknowledged by the mediator (HTTP 2xx): from then on it must arrive. */
  acked: boolean
  deliveredAt?: number
}

/**
 * What happened to every forward the harness sent: when it was sent and acknowledged, when its wallet
 * first had it, and every pickup message id delivered again after the wallet had confirmed it (what
 * guarantee 2 forbids). A message counts as lost when it was acknowledged and never delivered.
 */
export class DeliveryLedger {
  private readonly sent = new Map<string, Sent>()
  private readonly confirmedAt = new Map<string, number>()
  /** Every delivery of each pickup message id (a message delivered again has several). */
  private readonly deliveredAt = new Map<string, number[]>()
  public deliveries = 0
  public duplicates = 0
  /** Deliveries per wall-clock second (epoch s), for rate-over-time charts. */
  public readonly perSecond = new Map<number, number>()

  public markSent(tag: string, at: number): void {
    this.sent.set(tag, { at, acked: false })
  }

  public markAcked(tag: string): void {
    const entry = this.sent.get(tag)
    if (entry) entry.acked = true
  }

  public apply(events: LoadEvents): void {
    for (const [tag, messageId, at] of events.deliveries) {
      this.deliveries++
      const second = Math.floor(at / 1000)
      this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1)
      const times = this.deliveredAt.get(messageId)
      if (times) times.push(at)
      else this.deliveredAt.set(messageId, [at])
      const entry = this.sent.get(tag)
      if (!entry) continue
      if (entry.deliveredAt === undefined) entry.deliveredAt = at
      else this.duplicates++
    }
    for (const [messageId, at] of events.confirmed) {
      if (!this.confirmedAt.has(messageId)) this.confirmedAt.set(messageId, at)
    }
  }

  /** Latencies (ms, sent -> first delivery) of the forwards sent in [from, to). */
  public latencies(from: number, to: number): number[] {
    const out: number[] = []
    for (const entry of this.sent.values()) {
      if (entry.at >= from && entry.at < to && entry.deliveredAt !== undefined) out.push(entry.deliveredAt - entry.at)
    }
    return out.sort((a, b) => a - b)
  }

  /** Forwards sent in [from, to): how many, acknowledged, delivered, and acknowledged but never delivered. */
  public outcome(from: number, to: number): { sent: number; acked: number; delivered: number; lost: number; unacked: number } {
    let sent = 0
    let acked = 0
    let delivered = 0
    let lost = 0
    for (const entry of this.sent.values()) {
      if (entry.at < from || entry.at >= to) continue
      sent++
      if (entry.acked) acked++
      if (entry.deliveredAt !== undefined) delivered++
      else if (entry.acked) lost++
    }
    return { sent, acked, delivered, lost, unacked: sent - acked }
  }

  /** Whether every acknowledged forward sent in [from, to) has arrived. */
  public allDelivered(from: number, to: number): boolean {
    return this.outcome(from, to).lost === 0
  }

  /**
   * Deliveries in [from, to) of a pickup message id whose confirmation the mediator had answered
   * before (compared once every event is in: load processes report in batches, out of step).
   */
  public afterConfirmationBetween(from = 0, to = Number.POSITIVE_INFINITY): number {
    return this.afterConfirmationLags(from, to).length
  }

  /** For each such delivery, how long (ms) after the confirmation's answer it arrived, ascending. */
  public afterConfirmationLags(from = 0, to = Number.POSITIVE_INFINITY): number[] {
    const lags: number[] = []
    for (const [messageId, times] of this.deliveredAt) {
      const confirmed = this.confirmedAt.get(messageId)
      if (confirmed === undefined) continue
      for (const at of times) if (at > confirmed && at >= from && at < to) lags.push(Math.round((at - confirmed) * 10) / 10)
    }
    return lags.sort((a, b) => a - b)
  }
}
