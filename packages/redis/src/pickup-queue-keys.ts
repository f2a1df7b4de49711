import { RedisKeys } from '@mediator/contracts'
import { InboundOrderKeys } from './inbound-order-keys.js'

/**
 * Key layout of the pickup queue, all under `{prefix}:pq:`. One connection's queue is a handful of
 * keys sharing `{prefix}:pq:c:{connectionId}:`; two keys are shared by all connections.
 *
 * Scripts derive some key names themselves, so the ioredis client must not use its own `keyPrefix`
 * option: the deployment prefix goes here instead.
 */
export class PickupQueueKeys {
  /** `{prefix}:pq` */
  public readonly root: string
  /** The acknowledgement order the queue sorts by and hands out in (see InboundOrder). */
  public readonly order: InboundOrderKeys

  public constructor(prefix: string | RedisKeys) {
    // RedisKeys validates the prefix, so every Redis building block accepts the same prefixes.
    const keys = typeof prefix === 'string' ? new RedisKeys(prefix) : prefix
    this.root = `${keys.prefix}:pq`
    this.order = new InboundOrderKeys(keys)
  }

  /** ZSET connectionId -> queue time (ms) of its oldest message: the retention sweep's work list. */
  public get oldest(): string {
    return `${this.root}:oldest`
  }

  /** ZSET connectionId -> earliest lease deadline (ms) of its in-flight messages: the lease sweep's work list. */
  public get leases(): string {
    return `${this.root}:leases`
  }

  /** Counter of messages removed by retention, across all connections and workers. */
  public get expiredTotal(): string {
    return `${this.root}:expired-total`
  }

  /**
   * Base of one connection's keys. The id is URI-encoded so that it holds no ':' and no connection's
   * keys can run into another's (Credo's ids are UUIDs, which encoding leaves as they are).
   */
  public connection(connectionId: string): string {
    return `${this.root}:c:${encodeURIComponent(connectionId)}`
  }

  /**
   * KEYS for a pickup-queue script, in the order the scripts expect (see PICKUP_QUEUE_KEY_COUNT):
   * pending ZSET (id -> order key), in-flight ZSET (id -> lease deadline ms), age ZSET
   * (id -> queue time ms), payload HASH (id -> envelope JSON), meta HASH (id -> JSON {s, r, b, d}),
   * state HASH (bytes), recipient SET (DIDs with an index), the three shared keys, then the four
   * order keys.
   */
  public scriptKeys(connectionId: string): string[] {
    const c = this.connection(connectionId)
    return [
      `${c}:pending`,
      `${c}:inflight`,
      `${c}:age`,
      `${c}:payload`,
      `${c}:meta`,
      `${c}:state`,
      `${c}:rcpt`,
      this.oldest,
      this.expiredTotal,
      this.leases,
      ...this.order.scriptKeys(),
    ]
  }

  /** Marker of an add with an idempotency key (STRING: the id it queued, with a TTL). */
  public idempotency(connectionId: string, key: string): string {
    return `${this.connection(connectionId)}:idem:${key}`
  }

  /** Prefix of the per-recipient pending indexes: `{...}:r:{recipientDid}` ZSET id -> order key. */
  public recipientPrefix(connectionId: string): string {
    return `${this.connection(connectionId)}:r:`
  }
}
