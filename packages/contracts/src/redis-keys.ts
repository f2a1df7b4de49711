/**
 * The Redis key layout, in one place, so that relays, workers and operators agree on it. Every key
 * starts with a deployment prefix, so several deployments (or test runs) can share one Redis.
 */
export class RedisKeys {
  public constructor(public readonly prefix: string) {
    if (!/^[A-Za-z0-9:_-]+$/.test(prefix)) {
      throw new Error(`Invalid Redis key prefix '${prefix}': use letters, digits, ':', '_' or '-'`)
    }
  }

  /** BullMQ's own prefix; queues live under `{prefix}:bull:{queueName}:*`. */
  public get bullPrefix(): string {
    return `${this.prefix}:bull`
  }

  /** Hash of live relays: relayId -> JSON RelayAnnouncement. Liveness is the per-relay heartbeat key. */
  public get relays(): string {
    return `${this.prefix}:relays`
  }

  /** Heartbeat of one relay: exists (with a TTL) only while the relay is alive. */
  public relayHeartbeat(relayId: string): string {
    return `${this.prefix}:relay:${relayId}:alive`
  }

  /** Hash of mediator workers: workerId -> JSON WorkerAnnouncement. Liveness is the per-worker heartbeat key. */
  public get workers(): string {
    return `${this.prefix}:workers`
  }

  /** Heartbeat of one worker: the time of its last beat (ms), with a TTL, only while it is alive. */
  public workerHeartbeat(workerId: string): string {
    return `${this.prefix}:worker:${workerId}:alive`
  }

  /** The mediator's reusable invitation ({url, invitation} JSON), published by workers, served by relays. */
  public get invitation(): string {
    return `${this.prefix}:invitation`
  }
}
