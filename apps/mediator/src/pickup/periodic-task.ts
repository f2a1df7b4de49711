import type { Logger } from '@mediator/config'

/**
 * Runs `run` every interval, never two passes at once (a slow pass, a backlog after an outage, must
 * not pile up behind itself), and logs a failed pass instead of throwing out of a timer. The timer
 * does not keep the process alive.
 */
export class PeriodicTask<T = void> {
  private timer?: NodeJS.Timeout
  private running = false

  public constructor(
    private readonly name: string,
    private readonly run: () => Promise<T>,
    private readonly logger: Logger,
  ) {}

  public start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runOnce(), intervalMs)
    this.timer.unref()
  }

  public stop(): void {
    clearInterval(this.timer)
  }

  /** One pass now; undefined when it failed, or was skipped because a pass was running. */
  public async runOnce(): Promise<T | undefined> {
    if (this.running) return undefined
    this.running = true
    try {
      return await this.run()
    } catch (error) {
      this.logger.warn({ err: error }, `${this.name} failed`)
      return undefined
    } finally {
      this.running = false
    }
  }
}

/** A PeriodicTask with the start, stop and pass-now that every sweeper of the worker has. */
export abstract class Sweeper<T = void> {
  private readonly task: PeriodicTask<T>

  protected constructor(name: string, logger: Logger) {
    this.task = new PeriodicTask(name, () => this.pass(), logger)
  }

  public start(intervalMs: number): void {
    this.task.start(intervalMs)
  }

  public stop(): void {
    this.task.stop()
  }

  /** One pass now; undefined when it failed, or was skipped because a pass was running. */
  public sweep(): Promise<T | undefined> {
    return this.task.runOnce()
  }

  protected abstract pass(): Promise<T>
}
