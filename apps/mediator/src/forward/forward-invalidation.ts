import {
  RepositoryEventTypes,
  type BaseRecord,
  type EventEmitter,
  type RecordDeletedEvent,
  type RecordSavedEvent,
  type RecordUpdatedEvent,
} from '@credo-ts/core'
import { DidRecord } from '@credo-ts/core'
import { DidCommConnectionRecord, DidCommMediationRecord, DidCommMediatorRoutingRecord } from '@credo-ts/didcomm'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { Logger } from '@mediator/config'
import type { ForwardRecipients } from './forward-recipients.js'
import type { RoutingKeys } from './routing-keys.js'

/**
 * What changed, as far as the fast paths care: one connection's keylist (its mediation record), one
 * connection, everything, the routing keys, or one of the DIDs (ours or a wallet's) that authcrypted
 * messages are resolved with.
 *
 * A keylist change is `{ connectionId, mediation: true }` so that a worker that does not tell it
 * apart (an older one, during a rolling upgrade) takes it for a change of the whole connection, which
 * drops more than needed but never too little.
 */
export const forwardInvalidationSchema = z.union([
  z.object({ connectionId: z.string().min(1), mediation: z.literal(true) }),
  z.object({ connectionId: z.string().min(1) }),
  z.object({ all: z.literal(true) }),
  z.object({ routing: z.literal(true) }),
  z.object({ did: z.string().min(1) }),
])
export type ForwardInvalidationMessage = z.infer<typeof forwardInvalidationSchema>

export function forwardInvalidationChannel(redisPrefix: string): string {
  return `${redisPrefix}:forward:invalidate`
}

/** Another per-process cache kept honest by the same signals (the pickup fast path's). */
export interface InvalidationTarget {
  invalidateConnection?(connectionId: string): void
  invalidateDid?(did: string): void
  clear(): void
}

type AnyRecordEvent = RecordSavedEvent<BaseRecord> | RecordUpdatedEvent<BaseRecord> | RecordDeletedEvent<BaseRecord>

/**
 * Keeps every worker's fast-path caches honest. Keylists change by Credo record writes (mediation
 * record on keylist-update, grant, deny; connection record on state changes and deletion; DID records
 * for the keys authcrypted messages are resolved with), which
 * Credo announces on its event emitter in the process that made them. Each such change is applied
 * here at once and published on a Redis channel, so every other worker drops the same entries within
 * a round trip. Pub/sub is not durable: when the subscription (re)connects, the whole cache is
 * dropped, since signals may have been missed; the cache TTL is the last line.
 */
export class ForwardInvalidation {
  private subscriber?: Redis
  private readonly channel: string
  private readonly onRecord = (event: AnyRecordEvent) => this.recordChanged(event.payload.record)

  public constructor(
    private readonly deps: {
      events: EventEmitter
      /** Any client of the deployment's Redis; a dedicated subscriber connection is made from it. */
      redis: Redis
      redisPrefix: string
      recipients: ForwardRecipients
      routingKeys: RoutingKeys
      logger: Logger
      /** More caches that drop entries on the same signals. */
      targets?: readonly InvalidationTarget[]
    },
  ) {
    this.channel = forwardInvalidationChannel(deps.redisPrefix)
  }

  public async start(): Promise<void> {
    const { events, redis, logger } = this.deps
    for (const type of [RepositoryEventTypes.RecordSaved, RepositoryEventTypes.RecordUpdated, RepositoryEventTypes.RecordDeleted]) {
      events.on(type, this.onRecord)
    }
    const subscriber = redis.duplicate()
    this.subscriber = subscriber
    subscriber.on('error', (error) => logger.warn({ err: error }, 'forward cache invalidation: Redis subscriber error'))
    let first = true
    subscriber.on('ready', () => {
      // After a reconnect signals may have been lost in between.
      if (!first) this.apply({ all: true })
      first = false
    })
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return
      let message: unknown
      try {
        message = JSON.parse(text)
      } catch {
        message = undefined
      }
      const parsed = forwardInvalidationSchema.safeParse(message)
      if (parsed.success) this.apply(parsed.data)
      else logger.warn({ channel }, 'forward cache invalidation: malformed signal ignored')
    })
    await subscriber.subscribe(this.channel)
  }

  public async close(): Promise<void> {
    for (const type of [RepositoryEventTypes.RecordSaved, RepositoryEventTypes.RecordUpdated, RepositoryEventTypes.RecordDeleted]) {
      this.deps.events.off(type, this.onRecord)
    }
    this.subscriber?.disconnect()
  }

  /** Applies a change here and tells the other workers. */
  public publish(message: ForwardInvalidationMessage): void {
    this.apply(message)
    this.deps.redis
      .publish(this.channel, JSON.stringify(message))
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'forward cache invalidation: publish failed'))
  }

  private apply(message: ForwardInvalidationMessage): void {
    const targets = this.deps.targets ?? []
    if ('mediation' in message) {
      // Only the forward recipients hang on a keylist. The targets do not, and a wallet adds keys each
      // time it makes a connection: dropping its connection's entries there would make a live
      // wallet's socket session untrusted for the rest of the socket's life (SessionTrust).
      this.deps.recipients.invalidateConnection(message.connectionId)
    } else if ('connectionId' in message) {
      this.deps.recipients.invalidateConnection(message.connectionId)
      for (const t of targets) t.invalidateConnection?.(message.connectionId)
    } else if ('all' in message) {
      this.deps.recipients.clear()
      for (const t of targets) t.clear()
    } else if ('did' in message) {
      for (const t of targets) t.invalidateDid?.(message.did)
    } else {
      this.deps.routingKeys
        .refresh()
        .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'reloading routing keys failed'))
    }
  }

  private recordChanged(record: Pick<BaseRecord, 'id' | 'type'>): void {
    if (record.type === DidCommMediationRecord.type) {
      // A deletion by id carries no connection id; then every key must go.
      const connectionId = (record as Partial<DidCommMediationRecord>).connectionId
      this.publish(connectionId ? { connectionId, mediation: true } : { all: true })
    } else if (record.type === DidCommConnectionRecord.type) {
      this.publish({ connectionId: record.id })
    } else if (record.type === DidCommMediatorRoutingRecord.type) {
      this.publish({ routing: true })
    } else if (record.type === DidRecord.type) {
      // A deletion by id carries no DID; then every cache must go.
      const did = (record as Partial<DidRecord>).did
      this.publish(did ? { did } : { all: true })
    }
  }
}
