import type { ChainableCommander, Redis } from 'ioredis'
import { z } from 'zod'
import type { RedisKeys } from '@mediator/contracts'
import {
  registerScript,
  removeRelayBatchScript,
  removeSocketScript,
  socketSessionsScript,
  touchScript,
  unregisterScript,
  vouchScript,
} from './lua/session-directory-scripts.js'
import { assertNoClientKeyPrefix, scriptCommand, type ScriptCommand } from './lua/script-client.js'
import { SessionDirectoryKeys } from './session-directory-keys.js'

const id = z.string().min(1).max(256)

/** Where a connection's live (pickup v2 live mode) session is. */
export const liveSessionEntrySchema = z.object({
  /** The relay holding the socket; reach it through the relay registry. */
  relayId: id,
  /** The socket on that relay (unique per relay; relays use random ids, never reused). */
  socketId: id,
  transport: z.enum(['ws', 'http']),
  /**
   * When the session began, ms since the epoch; decides which of two registrations is newest. Use
   * the relay's receive time of the message that turned live mode on, not the worker's clock.
   */
  registeredAt: z.number().int().nonnegative(),
  /** Credo's transport session id on the worker side, if the caller wants it back. */
  sessionId: id.optional(),
  /** Which worker registered it: for logs and debugging only. */
  registeredBy: id.optional(),
  /**
   * When a worker last checked this session's keys against storage and found the same connection
   * (`vouch`), ms since the epoch by that worker's clock. Absent until then; a new registration drops it.
   */
  checkedAt: z.number().int().nonnegative().optional(),
  /**
   * Whatever the worker needs to pack a delivery for this session without loading the connection
   * (e.g. the wallet's and our public keys), as JSON of at most 4 KiB. Stored, never interpreted:
   * readers validate it themselves.
   */
  keys: z
    .json()
    .refine((value) => JSON.stringify(value).length <= 4096, 'keys must be at most 4 KiB of JSON')
    .optional(),
})
export type LiveSessionEntry = z.infer<typeof liveSessionEntrySchema>

/** What `register` did; only the first three wrote anything. */
export type RegisterOutcome = 'registered' | 'refreshed' | 'replaced' | 'stale' | 'socket-closed'

const storedEntrySchema = liveSessionEntrySchema.extend({
  registeredAt: z.coerce.number().int().nonnegative(),
  checkedAt: z.coerce.number().int().nonnegative().optional(),
  keys: z.string().optional(),
})

export const sessionDirectorySettingsSchema = z.object({
  /** Safety TTL of every entry and index: a lost cleanup cannot leave garbage longer than this. */
  entryTtlMs: z.number().int().positive().default(24 * 60 * 60 * 1000),
  /** How long a removed socket refuses late registrations. 0 turns the tombstones off. */
  closedSocketTtlMs: z.number().int().nonnegative().default(10 * 60 * 1000),
  /** Sockets removed per round trip by `removeRelay`. */
  removeRelayBatchSize: z.number().int().positive().default(100),
})
export type SessionDirectorySettings = z.infer<typeof sessionDirectorySettingsSchema>

export interface LiveSessionDirectoryOptions extends z.input<typeof sessionDirectorySettingsSchema> {
  /** An ioredis client; the directory defines its Lua commands on it and never closes it. */
  redis: Redis
  /** Deployment key prefix (or its RedisKeys); the directory lives under `{prefix}:sd:`. */
  prefix: string | RedisKeys
}

const commands = {
  register: { name: 'mediatorSessionRegister', keys: 4, lua: registerScript },
  unregister: { name: 'mediatorSessionUnregister', keys: 1, lua: unregisterScript },
  touch: { name: 'mediatorSessionTouch', keys: 1, lua: touchScript },
  removeSocket: { name: 'mediatorSessionRemoveSocket', keys: 2, lua: removeSocketScript },
  removeRelayBatch: { name: 'mediatorSessionRemoveRelayBatch', keys: 1, lua: removeRelayBatchScript },
  socketSessions: { name: 'mediatorSessionSocketSessions', keys: 1, lua: socketSessionsScript },
  vouch: { name: 'mediatorSessionVouch', keys: 2, lua: vouchScript },
} as const
type CommandKey = keyof typeof commands

/**
 * The cluster-wide directory of live pickup sessions: connectionId -> the relay and socket that can
 * push to the wallet right now. Whichever worker queues a message for a wallet looks it up and asks
 * that relay to send; the relay's answer (404/410 gone) is the final word, the directory is a hint.
 *
 * One entry per connection; of two sockets of one wallet the newest registration wins. Reverse
 * indexes (socket -> connectionIds, relay -> sockets) let a closed socket or a dead relay be cleaned
 * up without scanning, and every key has a safety TTL.
 */
export class LiveSessionDirectory {
  public readonly settings: SessionDirectorySettings
  public readonly keys: SessionDirectoryKeys
  private readonly redis: Redis

  public constructor(options: LiveSessionDirectoryOptions) {
    const { redis, prefix, ...settings } = options
    assertNoClientKeyPrefix(redis)
    this.settings = sessionDirectorySettingsSchema.parse(settings)
    this.keys = new SessionDirectoryKeys(prefix)
    this.redis = redis
    for (const { name, keys, lua } of Object.values(commands)) {
      redis.defineCommand(name, { numberOfKeys: keys, lua })
    }
  }

  /**
   * Records that the connection's live session is on this socket, unless a newer registration is
   * already there ('stale') or the socket was already removed ('socket-closed').
   */
  public async register(connectionId: string, entry: LiveSessionEntry): Promise<RegisterOutcome> {
    const e = liveSessionEntrySchema.parse(entry)
    return (await this.command(this.redis, 'register')(
      this.keys.entry(nonEmpty(connectionId)),
      this.keys.socket(e.relayId, e.socketId),
      this.keys.relay(e.relayId),
      this.keys.socketClosed(e.relayId, e.socketId),
      connectionId,
      e.relayId,
      e.socketId,
      e.transport,
      e.registeredAt,
      e.sessionId ?? '',
      e.registeredBy ?? '',
      this.settings.entryTtlMs,
      e.keys === undefined ? '' : JSON.stringify(e.keys),
    )) as RegisterOutcome
  }

  public async lookup(connectionId: string): Promise<LiveSessionEntry | undefined> {
    return parseStoredLiveSessionEntry(await this.redis.hgetall(this.keys.entry(nonEmpty(connectionId))))
  }

  /** Looks many connections up in one round trip; absent ones are missing from the map. */
  public async lookupMany(connectionIds: readonly string[]): Promise<Map<string, LiveSessionEntry>> {
    const found = new Map<string, LiveSessionEntry>()
    if (connectionIds.length === 0) return found
    const pipeline = this.redis.pipeline()
    for (const connectionId of connectionIds) pipeline.hgetall(this.keys.entry(nonEmpty(connectionId)))
    const replies = (await pipeline.exec()) ?? []
    replies.forEach(([error, hash], index) => {
      if (error) throw error
      const entry = parseStoredLiveSessionEntry(hash as Record<string, string>)
      if (entry) found.set(connectionIds[index] as string, entry)
    })
    return found
  }

  /**
   * The live sessions registered on this socket (usually one: a wallet's connection), in one round
   * trip: what lets a message arriving on a live socket be attributed to its connection without a
   * storage lookup. Entries that do not parse are left out.
   */
  public async sessionsOnSocket(relayId: string, socketId: string): Promise<Map<string, LiveSessionEntry>> {
    const reply = (await this.command(this.redis, 'socketSessions')(
      this.keys.socket(nonEmpty(relayId), nonEmpty(socketId)),
      this.keys.entryPrefix,
    )) as Array<string | string[]>
    const found = new Map<string, LiveSessionEntry>()
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const fields = reply[i + 1] as string[]
      const hash: Record<string, string> = {}
      for (let f = 0; f + 1 < fields.length; f += 2) hash[fields[f] as string] = fields[f + 1] as string
      const entry = parseStoredLiveSessionEntry(hash)
      if (entry) found.set(reply[i] as string, entry)
    }
    return found
  }

  /**
   * Removes the connection's entry only if it still points at this socket (and relay, if given), so
   * a worker acting on an old socket cannot remove the session of a newer one. Returns whether it did.
   */
  public async unregister(connectionId: string, socketId: string, relayId?: string): Promise<boolean> {
    const removed = await this.command(this.redis, 'unregister')(
      this.keys.entry(nonEmpty(connectionId)),
      connectionId,
      socketId,
      relayId ?? '',
    )
    return removed === 1
  }

  /** Extends the safety TTL of an entry that still points at this socket (for very long sessions). */
  public async touch(connectionId: string, socketId: string): Promise<boolean> {
    const touched = await this.command(this.redis, 'touch')(
      this.keys.entry(nonEmpty(connectionId)),
      connectionId,
      socketId,
      this.settings.entryTtlMs,
    )
    return touched === 1
  }

  /**
   * Records that the connection's session on this socket was checked against storage at `checkedAt`
   * (a worker looked the message's keys up and found this connection), if the entry still points at
   * the socket; a later check is never overwritten by an earlier one. Returns whether the entry was there.
   */
  public async vouch(connectionId: string, relayId: string, socketId: string, checkedAt: number): Promise<boolean> {
    const at = z.number().int().nonnegative().parse(checkedAt)
    const vouched = await this.command(this.redis, 'vouch')(
      this.keys.entry(nonEmpty(connectionId)),
      this.keys.socket(nonEmpty(relayId), nonEmpty(socketId)),
      at,
    )
    return vouched === 1
  }

  /** The socket closed: drops every entry still pointing at it. Returns their connectionIds. */
  public async removeSocket(relayId: string, socketId: string): Promise<string[]> {
    return (await this.command(this.redis, 'removeSocket')(
      this.keys.socket(nonEmpty(relayId), nonEmpty(socketId)),
      this.keys.relay(relayId),
      this.keys.entryPrefix,
      this.settings.closedSocketTtlMs,
    )) as string[]
  }

  /**
   * Sockets with at least one live session on each of the given relays: a cheap gauge (one SCARD per
   * relay) of how many wallets are live. A socket left in an index by a lost cleanup counts until the
   * relay's cleanup or the safety TTL removes it.
   */
  public async countLiveSockets(relayIds: readonly string[]): Promise<number> {
    if (relayIds.length === 0) return 0
    const pipeline = this.redis.pipeline()
    for (const relayId of relayIds) pipeline.scard(this.keys.relay(relayId))
    const results = (await pipeline.exec()) ?? []
    return results.reduce((sum, [error, count]) => sum + (error ? 0 : Number(count)), 0)
  }

  /**
   * The relay is dead (its heartbeat expired): drops every entry on it, `removeRelayBatchSize`
   * sockets per atomic step so Redis is never blocked long. Returns how many entries it removed.
   */
  public async removeRelay(relayId: string): Promise<number> {
    let removed = 0
    for (;;) {
      const [batchRemoved, left] = (await this.command(this.redis, 'removeRelayBatch')(
        this.keys.relay(nonEmpty(relayId)),
        this.keys.entryPrefix,
        this.settings.removeRelayBatchSize,
        this.settings.closedSocketTtlMs,
      )) as [number, number]
      removed += batchRemoved
      if (left === 0) return removed
    }
  }

  private command(target: Redis | ChainableCommander, command: CommandKey): ScriptCommand {
    return scriptCommand(target, commands[command].name)
  }
}

function nonEmpty(value: string): string {
  if (value.length === 0) throw new TypeError('ids must not be empty')
  return value
}

/**
 * A directory entry as stored (a Redis hash), or undefined when there is none. A hash that does not
 * parse (an older layout) counts as no live session.
 */
export function parseStoredLiveSessionEntry(hash: Record<string, string>): LiveSessionEntry | undefined {
  if (Object.keys(hash).length === 0) return undefined
  const parsed = storedEntrySchema.safeParse(hash)
  if (!parsed.success) return undefined
  const { relayId, socketId, transport, registeredAt, sessionId, registeredBy, checkedAt, keys } = parsed.data
  let parsedKeys: LiveSessionEntry['keys']
  try {
    parsedKeys = keys === undefined ? undefined : (JSON.parse(keys) as LiveSessionEntry['keys'])
  } catch {
    return undefined
  }
  return {
    relayId,
    socketId,
    transport,
    registeredAt,
    ...(sessionId !== undefined ? { sessionId } : {}),
    ...(registeredBy !== undefined ? { registeredBy } : {}),
    ...(checkedAt !== undefined ? { checkedAt } : {}),
    ...(parsedKeys !== undefined ? { keys: parsedKeys } : {}),
  }
}
