import { RedisKeys } from '@mediator/contracts'

/**
 * Key layout of the acknowledgement order (see InboundOrder), all under `{prefix}:order:`. The pickup
 * queue's scripts read these keys too, so the layout lives in one place.
 */
export class InboundOrderKeys {
  /** `{prefix}:order` */
  public readonly root: string

  public constructor(prefix: string | RedisKeys) {
    const keys = typeof prefix === 'string' ? new RedisKeys(prefix) : prefix
    this.root = `${keys.prefix}:order`
  }

  /** STRING counter: the sequence number of the last inbound message a relay registered. */
  public get seq(): string {
    return `${this.root}:seq`
  }

  /** ZSET messageId -> sequence: messages acknowledged and not yet processed that later deliveries wait for. */
  public get open(): string {
    return `${this.root}:open`
  }

  /** HASH {m: member, t: ms, c: counter}: which open message is oldest, since when, and the counter then. */
  public get head(): string {
    return `${this.root}:head`
  }

  /** ZSET connectionId -> order key of its first message held back: live deliveries to make once it is due. */
  public get deferred(): string {
    return `${this.root}:deferred`
  }

  /** The keys every order-aware script takes, in the order the Lua helpers expect them. */
  public scriptKeys(): [string, string, string, string] {
    return [this.seq, this.open, this.head, this.deferred]
  }
}
