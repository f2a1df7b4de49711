import type { Redis } from 'ioredis'
import type { RedisKeys } from '@mediator/contracts'
import { PickupQueueKeys } from './pickup-queue-keys.js'

/** One connection's pickup queue as it is in Redis right now. */
export interface PickupQueueSnapshot {
  readonly connectionId: string
  /** Messages that can be taken. */
  readonly pending: number
  /** Messages delivered (leased) and not yet confirmed. */
  readonly leased: number
  /** Of the leased, those whose lease ran out: the next take or the lease sweep makes them pending again. */
  readonly leaseRunOut: number
  /** Payload bytes held, pending and leased. */
  readonly bytes: number
  /** When the oldest message still held was queued (ms, Redis time). */
  readonly oldestQueuedAt?: number
  /** Recipient DIDs (did:key) the held messages are for. */
  readonly recipientDids: readonly string[]
  /** Redis time of the snapshot (ms). */
  readonly at: number
}

/** The pickup queue across every connection. */
export interface PickupQueueOverview {
  readonly connectionsWithMessages: number
  /** When the oldest message of any connection was queued (ms, Redis time). */
  readonly oldestQueuedAt?: number
  /** Connections with a lease that ran out and was not yet made pending again. */
  readonly connectionsWithRunOutLeases: number
  /** Messages removed by retention since the counter was created. */
  readonly expiredTotal: number
  readonly at: number
}

/**
 * Reads the pickup queue without changing it, for operators. The queue's own `getStats` runs the
 * retention and lease steps of the caller's settings, so a tool with other settings than the workers'
 * would expire or release messages by reading them; this reads the keys as they are instead.
 */
export class PickupQueueInspector {
  private readonly keys: PickupQueueKeys

  public constructor(
    private readonly redis: Redis,
    prefix: string | RedisKeys,
  ) {
    this.keys = new PickupQueueKeys(prefix)
  }

  public async connection(connectionId: string): Promise<PickupQueueSnapshot> {
    const at = await this.now()
    const c = this.keys.connection(connectionId)
    const [pending, leased, leaseRunOut, bytes, oldest, recipients] = await this.exec(
      this.redis
        .multi()
        .zcard(`${c}:pending`)
        .zcard(`${c}:inflight`)
        .zcount(`${c}:inflight`, '-inf', at)
        .hget(`${c}:state`, 'bytes')
        .zrange(`${c}:age`, 0, 0, 'WITHSCORES')
        .smembers(`${c}:rcpt`),
    )
    const oldestQueuedAt = firstScore(oldest)
    return {
      connectionId,
      pending: Number(pending),
      leased: Number(leased),
      leaseRunOut: Number(leaseRunOut),
      bytes: Number(bytes ?? 0),
      ...(oldestQueuedAt !== undefined ? { oldestQueuedAt } : {}),
      recipientDids: ((recipients as string[] | null) ?? []).sort(),
      at,
    }
  }

  /** Pending messages of a connection for one recipient DID (did:key): its per-recipient index. */
  public async pendingForRecipient(connectionId: string, recipientDid: string): Promise<number> {
    return this.redis.zcard(`${this.keys.recipientPrefix(connectionId)}${recipientDid}`)
  }

  public async overview(): Promise<PickupQueueOverview> {
    const at = await this.now()
    const [connections, oldest, runOut, expired] = await this.exec(
      this.redis
        .multi()
        .zcard(this.keys.oldest)
        .zrange(this.keys.oldest, 0, 0, 'WITHSCORES')
        .zcount(this.keys.leases, '-inf', at)
        .get(this.keys.expiredTotal),
    )
    const oldestQueuedAt = firstScore(oldest)
    return {
      connectionsWithMessages: Number(connections),
      ...(oldestQueuedAt !== undefined ? { oldestQueuedAt } : {}),
      connectionsWithRunOutLeases: Number(runOut),
      expiredTotal: Number(expired ?? 0),
      at,
    }
  }

  /** Redis server time (ms): the clock the queue's scripts use for leases and retention. */
  private async now(): Promise<number> {
    const [seconds, micros] = await this.redis.time()
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }

  private async exec(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
    const results = await multi.exec()
    if (results === null) throw new Error('Redis transaction aborted')
    return results.map(([error, value]) => {
      if (error) throw error
      return value
    })
  }
}

function firstScore(reply: unknown): number | undefined {
  const pair = reply as string[] | null
  return pair && pair.length >= 2 ? Number(pair[1]) : undefined
}
