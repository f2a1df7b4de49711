/**
 * One timer for all sockets: each tick runs `sweep`, which pings every socket and terminates those
 * that did not answer the previous ping. No per-socket timers, so memory and timer churn stay flat
 * with the number of sockets.
 */
export class HeartbeatSweep {
  private timer: NodeJS.Timeout | undefined

  public constructor(
    private readonly intervalMs: number,
    private readonly sweep: () => void,
  ) {}

  public start(): void {
    if (this.timer) return
    this.timer = setInterval(this.sweep, this.intervalMs)
    this.timer.unref()
  }

  public stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
