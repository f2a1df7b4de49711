import type { Redis } from 'ioredis'
import type { RedisKeys } from '@mediator/contracts'
import { InboundOrderKeys } from './inbound-order-keys.js'
import { ORDER_SLOTS, finishScript, orderStatsScript, registerScript } from './lua/inbound-order-scripts.js'
import { assertNoClientKeyPrefix, scriptCommand } from './lua/script-client.js'

/** How long the oldest message in process may hold later deliveries back before it stops counting. */
export const DEFAULT_ORDER_HOLD_MS = 2_000

export interface InboundOrderOptions {
  redis: Redis
  prefix: string | RedisKeys
  /** See DEFAULT_ORDER_HOLD_MS; workers and the pickup queue must use the same value. */
  holdMs?: number
  /** Milliseconds since the epoch; by default the Redis server clock. For tests only. */
  clock?: () => number
}

/** Where an inbound message stands in the order relays acknowledged messages in. */
export interface InboundOrderRef {
  /** Its place in the deployment-wide acknowledgement order. */
  seq: number
  /** Whether deliveries of later messages wait until this one is processed (see InboundOrder). */
  barrier: boolean
}

export interface FinishResult {
  /** Open messages dropped because the oldest of them held everything back for longer than the hold. */
  dropped: number
  /** Connections with deliveries that were held back and may now go out. */
  due: string[]
}

export interface InboundOrderStats {
  /** Messages acknowledged, not yet processed, that later deliveries wait for. */
  open: number
  /** Connections with a live delivery held back. */
  deferred: number
  /** How long the oldest open message has been the oldest (ms), if there is one. */
  oldestOpenForMs?: number
}

/**
 * The order in which relays acknowledged inbound messages, shared by the whole deployment, so that a
 * wallet gets A before B whenever a relay acknowledged A before B, whichever workers process them.
 *
 * A relay registers every message before storing its job: one Redis counter gives it a sequence
 * number, which the job carries, and the pickup queue orders each wallet's messages by it (not by when
 * a worker got round to queueing them). That alone keeps order among messages waiting in a queue.
 *
 * A live delivery (or a pickup) must also not overtake a message that is still being processed: the
 * worker cannot know which wallet that one is for until it has decrypted it. So a message that may be
 * for any wallet (an anoncrypted one: every forward) is also registered as *open* until its worker
 * `finish`es it, and the pickup queue hands out only messages older than the oldest open one. A live
 * delivery held back that way is remembered (`deferred`) and `finish` returns the connections whose
 * deliveries have become due, for the caller to deliver.
 *
 * An open message that stays the oldest for `holdMs` (its worker died, or hangs) stops holding
 * others back: see docs/guarantees.md for what is promised and where it stops.
 */
export class InboundOrder {
  public readonly keys: InboundOrderKeys
  public readonly holdMs: number
  private readonly redis: Redis
  private readonly clock?: () => number

  public constructor(options: InboundOrderOptions) {
    assertNoClientKeyPrefix(options.redis)
    this.redis = options.redis
    this.keys = new InboundOrderKeys(options.prefix)
    this.holdMs = options.holdMs ?? DEFAULT_ORDER_HOLD_MS
    if (!Number.isInteger(this.holdMs) || this.holdMs <= 0) throw new RangeError('holdMs must be a positive integer')
    this.clock = options.clock
    this.redis.defineCommand('mediatorOrderRegister', { numberOfKeys: 4, lua: registerScript })
    this.redis.defineCommand('mediatorOrderFinish', { numberOfKeys: 4, lua: finishScript })
    this.redis.defineCommand('mediatorOrderStats', { numberOfKeys: 4, lua: orderStatsScript })
  }

  /** Gives an inbound message its place in the order (relays, before they store its job). */
  public async register(messageId: string, barrier: boolean): Promise<InboundOrderRef> {
    const seq = await scriptCommand(this.redis, 'mediatorOrderRegister')(
      ...this.keys.scriptKeys(),
      this.now(),
      messageId,
      barrier ? '1' : '0',
    )
    return { seq: Number(seq), barrier }
  }

  /** Undoes a registration whose job could not be stored, so it holds nothing back. */
  public async abandon(messageId: string): Promise<void> {
    await this.redis.zrem(this.keys.open, messageId)
  }

  /**
   * Marks `messageId` processed (everything it queued is queued) and returns the connections whose
   * held-back deliveries are now due. Without an id it only looks for due ones (the periodic check
   * that lets a hold run out when nothing else finishes).
   */
  public async finish(messageId = '', limit = 500): Promise<FinishResult> {
    const [dropped, due] = (await scriptCommand(this.redis, 'mediatorOrderFinish')(
      ...this.keys.scriptKeys(),
      this.now(),
      messageId,
      this.holdMs,
      limit,
    )) as [number, string[]]
    return { dropped, due }
  }

  /** Puts connections back on the deferred list (their delivery after `finish` failed). */
  public async defer(connectionIds: readonly string[]): Promise<void> {
    if (connectionIds.length === 0) return
    // Score 0: due at the next finish whatever is open; the delivery itself takes only what is due.
    await this.redis.zadd(this.keys.deferred, 'LT', ...connectionIds.flatMap((id) => [0, id]))
  }

  public async getStats(): Promise<InboundOrderStats> {
    const [open, deferred, since, now] = (await scriptCommand(this.redis, 'mediatorOrderStats')(
      ...this.keys.scriptKeys(),
      this.now(),
    )) as [number, number, string, string]
    const sinceMs = Number(since)
    return { open, deferred, ...(sinceMs >= 0 ? { oldestOpenForMs: Math.max(0, Number(now) - sinceMs) } : {}) }
  }

  private now(): number {
    return this.clock ? this.clock() : -1
  }
}

/** The pickup-queue order key of the `position`-th message a job queues (see ORDER_SLOTS). */
export function orderKeyOf(seq: number, position: number): number {
  return seq * ORDER_SLOTS + Math.min(Math.max(0, position), ORDER_SLOTS - 1)
}
