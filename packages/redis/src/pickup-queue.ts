import { randomUUID } from 'node:crypto'
import type { AgentContext } from '@credo-ts/core'
import type {
  AddMessageOptions,
  DidCommEncryptedMessage,
  DidCommQueueTransportRepository,
  GetAvailableMessageCountOptions,
  QueuedDidCommMessage,
  RemoveMessagesOptions,
  TakeFromQueueOptions,
} from '@credo-ts/didcomm'
import type { ChainableCommander, Redis } from 'ioredis'
import type { RedisKeys } from '@mediator/contracts'
import {
  ADD_TAKE_LIVE_KEY_COUNT,
  PICKUP_QUEUE_KEY_COUNT,
  TAKE_LIVE_KEY_COUNT,
  addScript,
  addTakeLiveScript,
  countScript,
  deleteConnectionScript,
  expireScript,
  releaseScript,
  releaseLiveScript,
  removeScript,
  requeueExpiredScript,
  statsScript,
  takeLiveScript,
  takeScript,
} from './lua/pickup-queue-scripts.js'
import { PickupQueueFullError, type PickupQueueLimitKind } from './pickup-queue-errors.js'
import { PickupQueueKeys } from './pickup-queue-keys.js'
import { assertNoClientKeyPrefix, scriptCommand, type ScriptArg, type ScriptCommand } from './lua/script-client.js'
import {
  parseLiveEntryFields,
  type AddAndTakeResult,
  type LiveTake,
  type LiveTakeOptions,
} from './pickup-queue-live.js'
import {
  pickupQueueSettingsSchema,
  type PickupQueueSettings,
  type PickupQueueSettingsInput,
} from './pickup-queue-options.js'

export type { AddAndTakeResult, LiveTake, LiveTakeOptions } from './pickup-queue-live.js'

/** The part of a pino logger the queue uses, so callers can pass theirs without a pino dependency here. */
export interface PickupQueueLogger {
  warn(obj: object, msg: string): void
}

export interface RedisPickupQueueOptions extends PickupQueueSettingsInput {
  /** An ioredis client; the queue defines its Lua commands on it and never closes it. */
  redis: Redis
  /** Deployment key prefix (or its RedisKeys); the queue lives under `{prefix}:pq:`. */
  prefix: string | RedisKeys
  /** Called whenever retention removed messages of a connection, from any operation or the sweep. */
  onExpired?: (count: number, connectionId: string) => void
  /**
   * Milliseconds since the epoch. By default the scripts read the Redis server clock, so that all
   * workers agree on lease deadlines whatever their own clocks say; pass a clock only in tests.
   */
  clock?: () => number
  logger?: PickupQueueLogger
  /** Called when a take held messages of the connection back for an earlier inbound message. */
  onHeld?: (connectionId: string) => void
}

/**
 * Where a queue operation stands in the acknowledgement order (see InboundOrder). Outside an inbound
 * job, leave both unset: the add then goes after everything registered so far.
 */
export interface OrderedOptions {
  /** The inbound message the caller is processing: its own registration holds nothing back for it. */
  orderOwner?: string
}

/**
 * Credo's add options, plus a key that makes a repeated add (a retried job) a no-op, and the message's
 * place in the order relays acknowledged it in (orderKeyOf).
 */
export interface IdempotentAddMessageOptions extends AddMessageOptions, OrderedOptions {
  idempotencyKey?: string
  orderKey?: number
  /**
   * This is the last add of `orderOwner`: once it is queued, that inbound message holds nothing back
   * any more, as if it had been finished (InboundOrder.finish), in the same step. Only in
   * addMessageAndTakeIfLive, which then returns the connections whose held-back deliveries are due.
   */
  settlesOrder?: boolean
}

/** Credo's take options, plus the caller's place in the order and what to do with held messages. */
export interface OrderedTakeOptions extends TakeFromQueueOptions, OrderedOptions {
  /** For a live delivery: when messages are held back, remember the connection so they are delivered once due. */
  deferIfHeld?: boolean
  /**
   * For a live delivery: its token. The take holds the connection (until `releaseLive`, or for
   * `liveLockMs` at most) and takes nothing while another delivery holds it, so that two workers never
   * send a wallet two batches that could cross on the way to its socket.
   */
  liveToken?: string
}

/** What `releaseLive` found. */
export interface LiveRelease {
  /** Whether the token still held the connection (its hold had not run out). */
  released: boolean
  /** Messages that may be delivered now: whoever released delivers them, as nobody else will. */
  available: number
}

/** One connection's queue, for metrics. */
export interface PickupQueueConnectionStats {
  /** Available to take now (includes messages whose lease has just expired). */
  pending: number
  /** Taken and not yet confirmed, lease still running. */
  inFlight: number
  /** Payload bytes held (pending + in flight). */
  bytes: number
  /** When the oldest message still held was queued. */
  oldestQueuedAt?: Date
}

export interface PickupQueueGlobalStats {
  /** Connections that hold at least one message. */
  connectionsWithMessages: number
  /** Messages removed by retention since the key was created, by every worker. */
  expiredTotal: number
}

/** A connection whose leases ran out, after the sweep made those messages pending again. */
export interface RequeuedLeases {
  connectionId: string
  /** Messages whose lease ran out and that are pending again. */
  requeued: number
  /** Messages now available to take (requeued or not). */
  pending: number
}

export interface PurgeExpiredResult {
  /** Connections the sweep visited (each had something past retention). */
  connections: number
  /** Messages it removed. */
  expired: number
}

const commands = {
  add: { name: 'mediatorPickupAdd', lua: addScript },
  take: { name: 'mediatorPickupTake', lua: takeScript },
  remove: { name: 'mediatorPickupRemove', lua: removeScript },
  count: { name: 'mediatorPickupCount', lua: countScript },
  stats: { name: 'mediatorPickupStats', lua: statsScript },
  release: { name: 'mediatorPickupRelease', lua: releaseScript },
  expire: { name: 'mediatorPickupExpire', lua: expireScript },
  deleteConnection: { name: 'mediatorPickupDeleteConnection', lua: deleteConnectionScript },
  requeueExpired: { name: 'mediatorPickupRequeueExpired', lua: requeueExpiredScript },
  releaseLive: { name: 'mediatorPickupReleaseLive', lua: releaseLiveScript },
  // The queue's KEYS plus the connection's live-session directory entry.
  addTakeLive: { name: 'mediatorPickupAddTakeLive', lua: addTakeLiveScript, keys: ADD_TAKE_LIVE_KEY_COUNT },
  takeLive: { name: 'mediatorPickupTakeLive', lua: takeLiveScript, keys: TAKE_LIVE_KEY_COUNT },
} as const
type CommandKey = keyof typeof commands

type TakeReply = [number, number, ...string[]]
type AddReply = ['ok', number] | ['dup', string] | ['full', PickupQueueLimitKind, number, number, number]

/** Message ids per script call in remove and release. */
const ID_CHUNK = 500
/** Connections a settling add hands back at most (as InboundOrder.finish); the rest wait for the next finish. */
const MAX_DUE_PER_SETTLE = 500

/**
 * A durable, per-connection FIFO pickup queue in Redis that Credo uses as its
 * `queueTransportRepository`. Any number of worker processes may share it: every operation is one
 * Lua script, hence atomic and one round trip.
 *
 * Delivery is at least once: a taken message is leased, not deleted, until the wallet confirms it
 * (`removeMessages`, pickup v2 `messages-received`) or the caller asked for `deleteMessages`
 * (pickup v1, which has no confirmation). When the lease runs out it is available again, in its
 * original place in the order.
 */
export class RedisPickupQueue implements DidCommQueueTransportRepository {
  public readonly settings: PickupQueueSettings
  public readonly keys: PickupQueueKeys
  private readonly redis: Redis
  private readonly onExpired?: (count: number, connectionId: string) => void
  private readonly clock?: () => number
  private readonly logger?: PickupQueueLogger
  private readonly onHeld?: (connectionId: string) => void

  public constructor(options: RedisPickupQueueOptions) {
    const { redis, prefix, onExpired, clock, logger, onHeld, ...settings } = options
    assertNoClientKeyPrefix(redis)
    this.settings = pickupQueueSettingsSchema.parse(settings)
    this.keys = new PickupQueueKeys(prefix)
    this.redis = redis
    this.onExpired = onExpired
    this.clock = clock
    this.logger = logger
    this.onHeld = onHeld
    for (const command of Object.values(commands)) {
      const numberOfKeys = 'keys' in command ? command.keys : PICKUP_QUEUE_KEY_COUNT
      redis.defineCommand(command.name, { numberOfKeys, lua: command.lua })
    }
  }

  public async getAvailableMessageCount(
    _agentContext: AgentContext,
    options: GetAvailableMessageCountOptions,
  ): Promise<number> {
    const [available, expired] = (await this.run('count', options.connectionId, [
      options.recipientDid ?? '',
    ])) as [number, number]
    this.reportExpired(expired, options.connectionId)
    return available
  }

  /**
   * The oldest available messages, in the order relays acknowledged them, and only those older than
   * every inbound message still being processed (other than `orderOwner`): a message acknowledged
   * earlier may still be on its way into this queue.
   */
  public async takeFromQueue(
    _agentContext: AgentContext,
    options: OrderedTakeOptions,
  ): Promise<QueuedDidCommMessage[]> {
    const reply = (await this.run('take', options.connectionId, [
      this.takeLimit(options.limit ?? this.settings.maxTakeLimit),
      options.recipientDid ?? '',
      options.deleteMessages ? '1' : '0',
      this.settings.leaseMs,
      options.orderOwner ?? '',
      this.settings.orderHoldMs,
      options.deferIfHeld ? '1' : '0',
      options.liveToken ?? '',
      this.liveLockMs,
    ])) as TakeReply
    return this.readTaken(reply, options.connectionId)
  }

  /**
   * Queues an envelope; throws PickupQueueFullError (and queues nothing) when the connection is at its
   * cap. With an `idempotencyKey`, a second add with the same key (within `idempotencyWindowMs`) queues
   * nothing and returns the id of the first, whether or not that one was confirmed since.
   */
  public async addMessage(_agentContext: AgentContext, options: IdempotentAddMessageOptions): Promise<string> {
    const id = randomUUID()
    const reply = (await this.run('add', options.connectionId, this.addArgs(id, options))) as AddReply
    return this.readAdded(reply, id, options.connectionId)
  }

  /**
   * addMessage, then, if the connection has a live-session directory entry (`live.entryKey`), takes
   * up to `live.limit` pending messages under a lease for delivery to it, all in one atomic script
   * and one round trip. The add behaves exactly as addMessage (caps, PickupQueueFullError, idempotency
   * key); a repeated idempotent add still takes. The caller must deliver what was taken or release
   * exactly those ids (releaseInFlight). An entry that does not parse counts as no live session, and
   * whatever was taken for it is released before this returns.
   */
  public async addMessageAndTakeIfLive(
    _agentContext: AgentContext,
    options: IdempotentAddMessageOptions,
    live: LiveTakeOptions,
  ): Promise<AddAndTakeResult> {
    const id = randomUUID()
    const args = this.scriptArgs(options.connectionId, [
      ...this.addArgs(id, options),
      this.takeLimit(live.limit),
      this.settings.leaseMs,
      options.orderOwner ?? '',
      this.settings.orderHoldMs,
      live.token,
      this.liveLockMs,
      options.settlesOrder === true && options.orderOwner !== undefined ? '1' : '0',
      MAX_DUE_PER_SETTLE,
    ])
    // The directory entry goes right after the queue's own KEYS (see addTakeLiveScript).
    const reply = (await this.command(this.redis, 'addTakeLive')(
      ...args.slice(0, PICKUP_QUEUE_KEY_COUNT),
      live.entryKey,
      ...args.slice(PICKUP_QUEUE_KEY_COUNT),
    )) as [AddReply] | [AddReply, string[], string[], TakeReply | []]
    const queuedId = this.readAdded(reply[0], id, options.connectionId)
    if (reply.length === 1) return { id: queuedId, due: [] }
    const [, due, fields, taken] = reply
    if (fields.length === 0) return { id: queuedId, due }
    const messages = this.readTaken(taken as TakeReply, options.connectionId)
    const entry = parseLiveEntryFields(fields)
    if (!entry) {
      await this.releaseInFlight(
        options.connectionId,
        messages.map((m) => m.id),
      )
      return { id: queuedId, due }
    }
    return { id: queuedId, due, live: { entry, messages } }
  }

  /**
   * A live delivery's take: looks the connection's live session up (`live.entryKey`) and, if there is
   * one, takes up to `live.limit` pending messages under a lease for it, holding the connection with
   * `live.token`, in one round trip. Call it again with the same token after a written send to hand
   * on: it goes on holding while there is more, and ends the hold (as releaseLive) when there is
   * nothing, or no session. Without a session, or with an entry that does not parse, `entry` is
   * absent and nothing stays taken.
   */
  public async takeForLive(connectionId: string, live: LiveTakeOptions & OrderedOptions): Promise<LiveTake> {
    const args = this.scriptArgs(connectionId, [
      this.takeLimit(live.limit),
      this.settings.leaseMs,
      live.orderOwner ?? '',
      this.settings.orderHoldMs,
      live.token,
      this.liveLockMs,
    ])
    const reply = (await this.command(this.redis, 'takeLive')(
      ...args.slice(0, PICKUP_QUEUE_KEY_COUNT),
      live.entryKey,
      ...args.slice(PICKUP_QUEUE_KEY_COUNT),
    )) as [] | [string[], TakeReply]
    if (reply.length === 0) return { messages: [] }
    const messages = this.readTaken(reply[1], connectionId)
    const entry = parseLiveEntryFields(reply[0])
    if (!entry) {
      await this.releaseInFlight(
        connectionId,
        messages.map((m) => m.id),
      )
      await this.releaseLive(connectionId, live.token)
      return { messages: [] }
    }
    return { entry, messages }
  }

  /**
   * Ends the hold a live delivery (`token`, see OrderedTakeOptions.liveToken) has on the connection,
   * once the relay answered its send. Messages queued meanwhile were left to the holder: when
   * `available` is not 0, the caller delivers them.
   */
  public async releaseLive(connectionId: string, token: string): Promise<LiveRelease> {
    const [released, available, expired] = (await this.run('releaseLive', connectionId, [
      token,
      this.settings.orderHoldMs,
    ])) as [number, number, number]
    this.reportExpired(expired, connectionId)
    return { released: released === 1, available }
  }

  /** A take's batch size as the scripts get it: whole, at most maxTakeLimit, 0 for nonsense. */
  private takeLimit(asked: number): number {
    return Number.isFinite(asked) ? Math.max(0, Math.min(Math.floor(asked), this.settings.maxTakeLimit)) : 0
  }

  /** A hold outlives neither the lease of what it sent nor `liveLockMs`. */
  private get liveLockMs(): number {
    return Math.min(this.settings.liveLockMs, this.settings.leaseMs)
  }

  public async removeMessages(_agentContext: AgentContext, options: RemoveMessagesOptions): Promise<void> {
    await this.remove(options.connectionId, options.messageIds)
  }

  /** Like removeMessages, but says how many of the ids were still queued. */
  public async remove(connectionId: string, messageIds: readonly string[]): Promise<number> {
    return this.runChunked('remove', connectionId, messageIds)
  }

  /**
   * Makes in-flight messages of the connection available again at once, in their original order,
   * instead of when their lease runs out: for when the socket they were sent on closed, or the send
   * failed, before the wallet confirmed them. Without `messageIds` it releases all of them; with
   * them, only those (so a failed delivery does not release another worker's batch).
   */
  public async releaseInFlight(connectionId: string, messageIds?: readonly string[]): Promise<number> {
    if (messageIds) return this.runChunked('release', connectionId, messageIds)
    const [released, expired] = (await this.run('release', connectionId, [])) as [number, number]
    this.reportExpired(expired, connectionId)
    return released
  }

  /** Messages held for the connection, pending and in flight. */
  public async getQueuedCount(connectionId: string): Promise<number> {
    const stats = await this.getStats(connectionId)
    return stats.pending + stats.inFlight
  }

  public async getStats(connectionId: string): Promise<PickupQueueConnectionStats> {
    const [pending, inFlight, bytes, oldest, expired] = (await this.run('stats', connectionId, [])) as [
      number,
      number,
      number,
      number,
      number,
    ]
    this.reportExpired(expired, connectionId)
    return { pending, inFlight, bytes, ...(oldest >= 0 ? { oldestQueuedAt: new Date(oldest) } : {}) }
  }

  public async getGlobalStats(): Promise<PickupQueueGlobalStats> {
    const [connections, expiredTotal] = await this.redis
      .multi()
      .zcard(this.keys.oldest)
      .get(this.keys.expiredTotal)
      .exec()
      .then((results) => (results ?? []).map(([error, value]) => {
        if (error) throw error
        return value
      }))
    return { connectionsWithMessages: Number(connections ?? 0), expiredTotal: Number(expiredTotal ?? 0) }
  }

  /** Deletes everything queued for the connection (e.g. when the connection is deleted); not counted as expiry. */
  public async deleteConnection(connectionId: string): Promise<number> {
    const [deleted] = (await this.run('deleteConnection', connectionId, [])) as [number]
    return deleted
  }

  /**
   * Applies retention to every connection that has something past it. The retention index
   * (connectionId -> oldest queue time) means the sweep reads only those connections, in batches of
   * `purgeBatchSize` per round trip, however many connections hold messages. Run it from one place
   * periodically (any worker may; concurrent sweeps are safe, just wasted work).
   */
  public async purgeExpired(): Promise<PurgeExpiredResult> {
    const result: PurgeExpiredResult = { connections: 0, expired: 0 }
    if (this.settings.maxAgeMs <= 0) return result
    const now = await this.sweepNow()
    await this.sweepIndex(this.keys.oldest, `(${now - this.settings.maxAgeMs}`, 'expire', now, (connectionId, reply) => {
      const [expired] = reply as [number]
      result.connections += 1
      result.expired += expired
      this.reportExpired(expired, connectionId)
    })
    return result
  }

  /**
   * Makes the messages whose lease ran out pending again, for every connection that has such
   * messages, and returns those connections. A lease runs out when a delivery got no confirmation
   * (the wallet vanished, a worker died after taking, a relay never answered); for a wallet that is
   * still live nothing else would bring its messages back until it sends something, so the caller
   * delivers them. The lease index (connectionId -> earliest deadline) means only those connections
   * are read, `purgeBatchSize` per round trip. Concurrent sweeps are safe: each connection's
   * requeue is atomic, and a second sweep finds nothing due.
   */
  public async requeueExpiredLeases(): Promise<RequeuedLeases[]> {
    const now = await this.sweepNow()
    const due: RequeuedLeases[] = []
    await this.sweepIndex(this.keys.leases, String(now), 'requeueExpired', now, (connectionId, reply) => {
      const [requeued, pending, expired] = reply as [number, number, number]
      this.reportExpired(expired, connectionId)
      if (requeued > 0) due.push({ connectionId, requeued, pending })
    })
    return due
  }

  /**
   * Runs `command` for every connection whose score in `index` is at most `maxScore`, `purgeBatchSize`
   * connections per pipelined round trip. Each script moves its connection out of range; one that stays
   * (an index entry out of step with its queue, which the script has just corrected) is not run again.
   */
  private async sweepIndex(
    index: string,
    maxScore: string,
    command: CommandKey,
    now: number,
    onReply: (connectionId: string, reply: unknown) => void,
  ): Promise<void> {
    const visited = new Set<string>()
    for (;;) {
      const found = await this.redis.zrangebyscore(index, '-inf', maxScore, 'LIMIT', 0, this.settings.purgeBatchSize)
      const connectionIds = found.filter((id) => !visited.has(id))
      if (connectionIds.length === 0) return
      const pipeline = this.redis.pipeline()
      for (const connectionId of connectionIds) {
        visited.add(connectionId)
        this.command(pipeline, command)(...this.scriptArgs(connectionId, [], now))
      }
      const replies = (await pipeline.exec()) ?? []
      replies.forEach(([error, reply], i) => {
        if (error) throw error
        onReply(connectionIds[i] as string, reply)
      })
    }
  }

  /**
   * Runs a per-id script over `ids` in chunks, pipelined in one round trip: the ids come from the
   * wallet (messages-received), and one script over 100,000 of them would block Redis for everyone.
   * Each chunk is atomic; the whole need not be. Returns the sum of the scripts' first results.
   */
  private async runChunked(command: 'remove' | 'release', connectionId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0
    const pipeline = this.redis.pipeline()
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      this.command(pipeline, command)(...this.scriptArgs(connectionId, ids.slice(i, i + ID_CHUNK)))
    }
    let total = 0
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error
      const [count, expired] = reply as [number, number]
      total += count
      this.reportExpired(expired, connectionId)
    }
    return total
  }

  private addArgs(id: string, options: IdempotentAddMessageOptions): ScriptArg[] {
    const payload = JSON.stringify(options.payload)
    return [
      id,
      payload,
      JSON.stringify(options.recipientDids),
      options.receivedAt ? options.receivedAt.getTime() : -1,
      Buffer.byteLength(payload),
      this.settings.maxMessagesPerConnection,
      this.settings.maxBytesPerConnection,
      options.idempotencyKey ? this.keys.idempotency(options.connectionId, options.idempotencyKey) : '',
      this.settings.idempotencyWindowMs,
      options.orderKey !== undefined ? orderKeyArg(options.orderKey) : '',
    ]
  }

  /** The id an add queued (or the earlier one for a duplicate); throws when the queue was full. */
  private readAdded(reply: AddReply, id: string, connectionId: string): string {
    if (reply[0] === 'dup') return reply[1]
    if (reply[0] === 'full') {
      this.reportExpired(reply[4], connectionId)
      throw new PickupQueueFullError(connectionId, reply[1], reply[2], reply[3])
    }
    this.reportExpired(reply[1], connectionId)
    return id
  }

  private readTaken(reply: TakeReply, connectionId: string): QueuedDidCommMessage[] {
    this.reportExpired(reply[0], connectionId)
    if (reply[1] === 1) this.reportHeld(connectionId)
    const messages: QueuedDidCommMessage[] = []
    for (let i = 2; i + 2 < reply.length; i += 3) {
      messages.push({
        id: reply[i] as string,
        // Written by addMessage from a DidCommEncryptedMessage; Redis is not an untrusted source.
        encryptedMessage: JSON.parse(reply[i + 1] as string) as DidCommEncryptedMessage,
        receivedAt: new Date(Number(reply[i + 2])),
      })
    }
    return messages
  }

  private async sweepNow(): Promise<number> {
    if (this.clock) return this.clock()
    const [seconds, micros] = await this.redis.time()
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }

  private run(command: CommandKey, connectionId: string, args: readonly ScriptArg[]): Promise<unknown> {
    return this.command(this.redis, command)(...this.scriptArgs(connectionId, args))
  }

  private command(target: Redis | ChainableCommander, command: CommandKey): ScriptCommand {
    return scriptCommand(target, commands[command].name)
  }

  private scriptArgs(connectionId: string, args: readonly ScriptArg[], now?: number): ScriptArg[] {
    if (connectionId.length === 0) throw new TypeError('connectionId must not be empty')
    return [
      ...this.keys.scriptKeys(connectionId),
      this.keys.recipientPrefix(connectionId),
      now ?? (this.clock ? this.clock() : -1),
      this.settings.maxAgeMs,
      connectionId,
      ...args,
    ]
  }

  private reportHeld(connectionId: string): void {
    try {
      this.onHeld?.(connectionId)
    } catch (error) {
      this.logger?.warn({ connectionId, err: error }, 'onHeld callback threw')
    }
  }

  private reportExpired(count: number, connectionId: string): void {
    if (!count) return
    this.logger?.warn({ connectionId, expired: count }, 'pickup queue retention removed messages')
    try {
      this.onExpired?.(count, connectionId)
    } catch (error) {
      // A faulty metrics hook must not turn a successful queue operation into a failure.
      this.logger?.warn({ connectionId, err: error }, 'onExpired callback threw')
    }
  }
}

/** An order key as the scripts take it: an integer, written out in full (no exponent). */
function orderKeyArg(key: number): string {
  if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`order key must be a non-negative safe integer, got ${key}`)
  return String(key)
}
