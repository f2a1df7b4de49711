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
    const a = workerAnnouncementSchema.parse(announcement)
    await this.redis
      .multi()
      .hset(this.keys.workers, a.workerId, JSON.stringify(a))
      .set(this.keys.workerHeartbeat(a.workerId), String(Date.now()), 'PX', a.heartbeatIntervalMs * WORKER_HEARTBEAT_TTL_FACTOR)
      .exec()
      .then(throwOnExecError)
  }

  /** A worker that stops removes itself at once. */
  public async withdraw(workerId: string): Promise<void> {
    await this.redis.multi().del(this.keys.workerHeartbeat(workerId)).hdel(this.keys.workers, workerId).exec().then(throwOnExecError)
  }

  /** Every announced worker with its last beat, dead ones included until pruned. */
  public async listAll(): Promise<Array<RegistryMember<WorkerAnnouncement>>> {
    return readRegistry(this.redis, this.keys.workers, (id) => this.keys.workerHeartbeat(id), (raw) =>
      parseAnnouncement(raw, workerAnnouncementSchema),
    )
  }

  /** Removes the announcements of workers whose heartbeat expired (killed without withdrawing). */
  public async pruneDead(): Promise<string[]> {
    const dead = (await this.listAll()).filter((m) => !m.alive).map((m) => m.announcement.workerId)
    if (dead.length > 0) await this.redis.hdel(this.keys.workers, ...dead)
    return dead
  }
}
