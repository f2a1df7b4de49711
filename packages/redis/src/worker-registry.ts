import type { Redis } from 'ioredis'
import { workerAnnouncementSchema } from '@mediator/contracts'
import type { RedisKeys, WorkerAnnouncement } from '@mediator/contracts'
import { parseAnnouncement, readRegistry, throwOnExecError, type RegistryMember } from './heartbeats.js'

/** A worker's heartbeat key lives this many intervals, so one late beat does not make it look dead. */
export const WORKER_HEARTBEAT_TTL_FACTOR = 3

/**
 * Where mediator workers say that they run, the way relays do in the relay registry. Nothing in the
 * cluster depends on it: it is for operators (`mediator-admin status`), who otherwise see workers
 * only as BullMQ connections without a name.
 */
export class WorkerRegistry {
  public constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Writes the announcement and the heartbeat; every beat calls it again. */
  public async heartbeat(announcement: WorkerAnnouncement): Promise<void> {
    const now = Date.now()
    const a = workerAnnouncementSchema.parse({ ...announcement, lastBeatAt: now })
    await this.redis
      .multi()
      .hset(this.keys.workers, a.workerId, JSON.stringify(a))
      .set(this.keys.workerHeartbeat(a.workerId), String(now), 'PX', a.heartbeatIntervalMs * WORKER_HEARTBEAT_TTL_FACTOR)
      .exec()
      .then(throwOnExecError)
  }

  /** A worker that stops removes itself at once. */
  public async withdraw(workerId: string): Promise<void> {
    await this.redis.multi().del(this.keys.workerHeartbeat(workerId)).hdel(this.keys.workers, workerId).exec().then(throwOnExecError)
  }

  /** Every announced worker with its last beat; a dead one (killed without withdrawing) until pruned. */
  public async listAll(): Promise<Array<RegistryMember<WorkerAnnouncement>>> {
    const members = await readRegistry(this.redis, this.keys.workers, (id) => this.keys.workerHeartbeat(id), (raw) =>
      parseAnnouncement(raw, workerAnnouncementSchema),
    )
    // A dead worker's heartbeat key is gone; its last announcement still says when it beat.
    return members.map((m) =>
      m.lastBeatAt === undefined && m.announcement.lastBeatAt !== undefined ? { ...m, lastBeatAt: m.announcement.lastBeatAt } : m,
    )
  }

  /**
   * Removes dead workers last seen more than `keepDeadMs` ago. Pods get new names when they restart,
   * so without this the registry would grow with every restart; within the window, status still
   * shows a worker that died.
   */
  public async pruneDead(keepDeadMs = 0): Promise<string[]> {
    const cutoff = Date.now() - keepDeadMs
    const dead = (await this.listAll())
      .filter((m) => !m.alive && (m.lastBeatAt ?? 0) <= cutoff)
      .map((m) => m.announcement.workerId)
    if (dead.length > 0) await this.redis.hdel(this.keys.workers, ...dead)
    return dead
  }
}
