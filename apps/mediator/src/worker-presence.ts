import { hostname } from 'node:os'
import type { Logger } from '@mediator/config'
import type { WorkerRegistry } from '@mediator/redis'
import type { WorkerAnnouncement } from '@mediator/contracts'
import { PeriodicTask } from './pickup/periodic-task.js'

/** How often a worker refreshes its entry in the worker registry. */
export const WORKER_HEARTBEAT_MS = 5_000
/** How long a dead worker stays listed (status shows it as DEAD, with when it was last seen). */
export const KEEP_DEAD_WORKERS_MS = 3_600_000

/**
 * Keeps this worker's entry in the worker registry fresh while it runs and removes it when it stops,
 * so operators see which workers are alive and since when. Nothing in the cluster reads it.
 */
export class WorkerPresence {
  private readonly task: PeriodicTask
  private announcement?: WorkerAnnouncement

  public constructor(
    private readonly registry: WorkerRegistry,
    private readonly workerId: string,
    private readonly concurrency: number,
    logger: Logger,
  ) {
    this.task = new PeriodicTask('worker heartbeat', () => this.beat(), logger)
  }

  public async start(opsPort: number | undefined): Promise<void> {
    this.announcement = {
      workerId: this.workerId,
      startedAt: Date.now(),
      heartbeatIntervalMs: WORKER_HEARTBEAT_MS,
      concurrency: this.concurrency,
      host: hostname(),
      pid: process.pid,
      ...(opsPort !== undefined ? { opsPort } : {}),
    }
    await this.task.runOnce()
    this.task.start(WORKER_HEARTBEAT_MS)
  }

  public async stop(): Promise<void> {
    this.task.stop()
    await this.registry.withdraw(this.workerId)
  }

  private async beat(): Promise<void> {
    if (!this.announcement) return
    await this.registry.heartbeat(this.announcement)
    await this.registry.pruneDead(KEEP_DEAD_WORKERS_MS)
  }
}
