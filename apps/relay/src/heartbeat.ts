/** How many parts of the interval the sockets are spread over. */
export const HEARTBEAT_SLICES = 30

export interface HeartbeatSweepOptions {
  intervalMs: number
  /** Sweeps the sockets of one slice (0 .. slices - 1). */
  sweep: (slice: number) => void
  slices?: number
  now?: () => number
}

/**
 * One timer for all sockets, no per-socket timers, so memory and timer churn stay flat with the
 * number of sockets. Each socket belongs to one of `slices` slices, and each tick sweeps the slices
 * whose turn has come: every socket is still pinged once per interval, but the pings leave a few
 * hundred at a time instead of all at once. Pinging every socket in one tick sent 16,700 pings per
 * relay at the same instant (and relays started together ping together), and the balancer and the
 * wallets' side answered all of them at once: forwards caught in that burst waited seconds.
 *
 * Slices are counted from the clock, not from the ticks: a tick that comes late (a blocked event
 * loop) sweeps every slice it missed, so no socket goes unpinged, or unjudged, for longer than it would
 * with a single sweep.
 */
export class HeartbeatSweep {
  private timer: NodeJS.Timeout | undefined
  private readonly slices: number
  private readonly sliceMs: number
  private readonly now: () => number
  /** The last slice swept, counted from the epoch (slice number = count % slices). */
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

  /** Sweeps each slice whose turn came since the last tick, each at most once. */
  public tick(): void {
    const current = this.current()
    const from = Math.max(this.last + 1, current - this.slices + 1)
    for (let n = from; n <= current; n++) this.options.sweep(n % this.slices)
    this.last = Math.max(this.last, current)
  }

  private current(): number {
    return Math.floor(this.now() / this.sliceMs)
  }
}
