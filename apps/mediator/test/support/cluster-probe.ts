import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME, RedisKeys, type InboundJob } from '@mediator/contracts'
import { RedisPickupQueue } from '@mediator/redis'
import type { TestCluster, WorkerHandle } from './cluster.js'

export interface DeadLetter {
  readonly id: string
  readonly kind: string
  readonly failedReason: string
  /** The envelope text of a message job, as the relay stored it. */
  readonly payload?: string
}

export interface LiveSessionRef {
  readonly connectionId: string
  readonly relayId: string
  readonly socketId: string
}

/**
 * Reads a test cluster's shared state the way an operator would (Redis under the cluster's prefix, the
 * workers' /metrics), so end-to-end tests can wait for conditions and check outcomes.
 */
export class ClusterProbe {
  private readonly redis: Redis
  private readonly inbound: Queue<InboundJob>
  private readonly pickup: RedisPickupQueue
  private readonly keys: RedisKeys

  public constructor(cluster: TestCluster) {
    this.keys = new RedisKeys(cluster.redis.prefix)
    this.redis = new Redis(cluster.redis.redisUrl, { maxRetriesPerRequest: 3 })
    this.inbound = new Queue<InboundJob>(INBOUND_QUEUE_NAME, { connection: this.redis, prefix: this.keys.bullPrefix })
    this.pickup = new RedisPickupQueue({ redis: this.redis, prefix: this.keys })
  }

  /** Inbound jobs by state. */
  public async inboundCounts(): Promise<Record<'waiting' | 'active' | 'delayed' | 'prioritized' | 'failed' | 'completed', number>> {
    const c = await this.inbound.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed')
    return {
      waiting: c.waiting ?? 0,
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      prioritized: c.prioritized ?? 0,
      failed: c.failed ?? 0,
      completed: c.completed ?? 0,
    }
  }

  /** True when no inbound job is waiting, delayed or being processed. */
  public async inboundIdle(): Promise<boolean> {
    const c = await this.inboundCounts()
    return c.waiting + c.active + c.delayed + c.prioritized === 0
  }

  /** Ids of the inbound jobs being processed right now. */
  public async activeJobIds(): Promise<string[]> {
    const jobs = await this.inbound.getActive()
    return jobs.map((j) => j.id).filter((id): id is string => typeof id === 'string')
  }

  /** State of one inbound job ('completed', 'failed', 'active', 'waiting', ... or 'unknown'). */
  public async jobState(id: string): Promise<string> {
    return this.inbound.getJobState(id)
  }

  /** How often a job was picked up again after its worker lost it (BullMQ's stalled counter). */
  public async stalledCount(id: string): Promise<number> {
    const job = await this.inbound.getJob(id)
    return job?.stalledCounter ?? 0
  }

  /** Finished jobs that had been picked up again after their worker lost them (died). */
  public async recoveredJobs(): Promise<number> {
    const jobs = await this.inbound.getCompleted(0, 1_000)
    return jobs.filter((j) => j.stalledCounter > 0).length
  }

  /** Anoncrypted message jobs (forwards) finished, by the relay that acknowledged them (of the last 1,000). */
  public async forwardsByRelay(): Promise<Map<string, number>> {
    const counts = new Map<string, number>()
    for (const job of await this.inbound.getCompleted(0, 1_000)) {
      if (job.data?.kind !== 'message' || job.data.order?.barrier !== true) continue
      counts.set(job.data.relayId, (counts.get(job.data.relayId) ?? 0) + 1)
    }
    return counts
  }

  /** When a job finished (ms since the epoch, the worker's clock), if it did. */
  public async finishedOn(id: string): Promise<number | undefined> {
    return (await this.inbound.getJob(id))?.finishedOn
  }

  /** The failed set: jobs the workers gave up on, with their reason. */
  public async deadLetters(): Promise<DeadLetter[]> {
    const jobs = await this.inbound.getFailed(0, 1_000)
    return jobs.map((j) => ({
      id: String(j.id),
      kind: j.name,
      failedReason: j.failedReason,
      ...(j.data?.kind === 'message' ? { payload: j.data.payload } : {}),
    }))
  }

  /** Every live pickup session in the directory. */
  public async liveSessions(): Promise<LiveSessionRef[]> {
    const entryPrefix = `${this.keys.prefix}:sd:conn:`
    const sessions: LiveSessionRef[] = []
    let cursor = '0'
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${entryPrefix}*`, 'COUNT', 500)
      cursor = next
      for (const key of keys) {
        const entry = await this.redis.hgetall(key)
        if (entry.relayId && entry.socketId) {
          sessions.push({ connectionId: key.slice(entryPrefix.length), relayId: entry.relayId, socketId: entry.socketId })
        }
      }
    } while (cursor !== '0')
    return sessions
  }

  /** Connections that still have messages queued (pending or delivered but not confirmed). */
  public async connectionsWithQueuedMessages(): Promise<number> {
    return (await this.pickup.getGlobalStats()).connectionsWithMessages
  }

  /** Pending and in-flight messages of one connection. */
  public queueStats(connectionId: string) {
    return this.pickup.getStats(connectionId)
  }

  /** A counter or gauge from a worker's /metrics (summed over its labels), 0 when absent. */
  public async workerMetric(worker: WorkerHandle, name: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${worker.opsPort}/metrics`)
    const text = await res.text()
    let total = 0
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.slice(line.lastIndexOf(' ') + 1))
    }
    return total
  }

  /** Cluster state for failure messages. */
  public async describe(): Promise<string> {
    const [counts, sessions, queued] = await Promise.all([
      this.inboundCounts(),
      this.liveSessions(),
      this.connectionsWithQueuedMessages(),
    ])
    return `inbound jobs ${JSON.stringify(counts)}; live sessions ${JSON.stringify(sessions)}; connections with queued messages ${queued}`
  }

  public async close(): Promise<void> {
    await this.inbound.close()
    this.redis.disconnect()
  }
}
