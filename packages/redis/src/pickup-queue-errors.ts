/** Which per-connection cap a message would break. */
export type PickupQueueLimitKind = 'messages' | 'bytes'

/**
 * Thrown by `RedisPickupQueue.addMessage` when a connection's queue is at its cap. Nothing already
 * queued is dropped; the caller should answer the sender with a problem report and may retry later.
 */
export class PickupQueueFullError extends Error {
  public constructor(
    public readonly connectionId: string,
    /** The cap that was hit. */
    public readonly limitKind: PickupQueueLimitKind,
    /** The configured maximum (messages, or payload bytes). */
    public readonly limit: number,
    /** What the queue held when the message was refused (messages, or payload bytes). */
    public readonly current: number,
  ) {
    super(
      `Pickup queue of connection ${connectionId} is full: ${current} ${limitKind} queued, limit ${limit}`,
    )
    this.name = 'PickupQueueFullError'
  }
}
