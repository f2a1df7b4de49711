/** What the ticker flushes: a wallet client with deliveries to confirm. */
export interface AckFlushable {
  flushDueAcks(): void
}

const TICK_MS = 50

/**
 * When wallet clients confirm their deliveries. Each client keeps a phase of its own within the ack
 * interval, as independent wallets do (so confirmations do not arrive in bursts), but one timer per
 * process serves them all and visits only the clients that have something to confirm. A timer per
 * client cost a load process a callback per wallet per interval whether it had anything to send or not:
 * 100,000 callbacks a second across the load processes at 100,000 wallets, on the cores the mediator
 * under test runs on.
 */
export class AckTicker {
  private static readonly byInterval = new Map<number, AckTicker>()
  private readonly slots: Array<Set<AckFlushable>>
  private next = 0
  private timer: NodeJS.Timeout | undefined

  private constructor(intervalMs: number) {
    this.slots = Array.from({ length: Math.max(1, Math.round(intervalMs / TICK_MS)) }, () => new Set<AckFlushable>())
  }

  /** The process's ticker for one ack interval. */
  public static for(intervalMs: number): AckTicker {
    let ticker = AckTicker.byInterval.get(intervalMs)
    if (!ticker) {
      ticker = new AckTicker(intervalMs)
      AckTicker.byInterval.set(intervalMs, ticker)
    }
    return ticker
  }

  /** A random phase for a new client. */
  public phase(): number {
    return Math.floor(Math.random() * this.slots.length)
  }

  /**
   * `client` has acks waiting: it is flushed when the ticker next reaches its phase (within one interval).
   * Scheduling it again before then changes nothing.
   */
  public schedule(client: AckFlushable, phase: number): void {
    this.slots[phase % this.slots.length]?.add(client)
    if (this.timer) return
    this.timer = setInterval(() => this.tick(), TICK_MS)
    // Clients are closed by their owners; a pending flush must not keep a process alive.
    this.timer.unref()
  }

  private tick(): void {
    const slot = this.slots[this.next]
    this.next = (this.next + 1) % this.slots.length
    if (!slot || slot.size === 0) return
    const due = [...slot]
    slot.clear()
    for (const client of due) client.flushDueAcks()
  }
}
