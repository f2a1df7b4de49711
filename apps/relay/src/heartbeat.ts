/** How many parts of the interval the sweep is spread over. */
export const HEARTBEAT_SLICES = 30

export interface HeartbeatSweepOptions {
  intervalMs: number
  /**
   * Sweeps the next `share` of the sockets (a fraction of all of them; 1 / slices per turn), going on
   * where the last call stopped, so that every socket is swept once per round of `slices` turns.
   */
  sweep: (share: number) => void
  slices?: number
  now?: () => number
}

/**
 * One timer for all sockets, no per-socket timers, so memory and timer churn stay flat with the
 * number of sockets. Each tick sweeps the next thirtieth of the sockets: every socket is still pinged
 * once per interval, but the pings leave a few hundred at a time instead of all at once. Pinging every
 * socket in one tick sent 16,700 pings per relay at the same instant (and relays started together ping
 * together), and the balancer and the wallets answered all of them at once: forwards caught in that
 * burst waited seconds.
 *
 * Turns are counted from the clock, not from the ticks: a tick that comes late (a blocked event loop)
 * sweeps the share of every turn it missed (at most one round), so no socket goes unpinged, or
 * unjudged, for longer than it would with a single sweep.
 */
export class HeartbeatSweep {
  private timer: NodeJS.Timeout | undefined
  private readonly slices: number
  private readonly sliceMs: number
  private readonly now: () => number
  /** The last turn swept, counted from the epoch. */
  private last = 0

  public constructor(private readonly options: HeartbeatSweepOptions) {
    this.slices = options.slices ?? HEARTBEAT_SLICES
    this.sliceMs = options.intervalMs / this.slices
    this.now = options.now ?? Date.now
  }

  public start(): void {
    if (this.timer) return
    this.last = this.current()
    this.timer = setInterval(() => this.tick(), this.sliceMs)
    this.timer.unref()
  }

  public stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Sweeps the share of each turn that came since the last tick (at most a whole round). */
  public tick(): void {
    const current = this.current()
    const due = Math.min(current - this.last, this.slices)
    if (due <= 0) return
    this.last = current
    this.options.sweep(due / this.slices)
  }

  private current(): number {
    return Math.floor(this.now() / this.sliceMs)
  }
}
