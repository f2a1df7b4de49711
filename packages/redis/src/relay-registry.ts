import type { Redis } from 'ioredis'
import { relayAnnouncementSchema } from '@mediator/contracts'
import type { RedisKeys, RelayAnnouncement } from '@mediator/contracts'
import { parseAnnouncement as parseWith, readRegistry, throwOnExecError, type RegistryMember } from './heartbeats.js'

/**
 * A relay is alive while its heartbeat key exists. The key lives this many heartbeat intervals, so one
 * late or lost beat (a GC pause, a Redis failover) does not make a slow relay look dead.
 */
export const RELAY_HEARTBEAT_TTL_FACTOR = 3

export interface HeartbeatResult {
  /**
   * The relay's announcement was gone before this beat: workers took it for dead (`pruneDead`) and
   * dropped its sockets' live sessions, or Redis lost its data. A beat that is only late (its key
   * expired, nobody pruned it) has not lapsed.
   */
  lapsed: boolean
}

/**
 * Whether a relay whose heartbeat expired still answers (its internal /healthz, as that relay): a
 * relay that is only slow to beat (starved by a reconnect storm, its Redis commands queued) is not
 * dead, and dropping its live sessions would cut off every wallet it holds.
 */
export type RelayProbe = (announcement: RelayAnnouncement) => Promise<boolean>

/**
 * Where relays say where their internal API is and that they are still there. Relays call
 * `announce` / `heartbeat` / `withdraw`; workers call `get` / `isAlive` / `listAlive` to tell a dead relay
 * (drop its sessions, queue the message) from a slow one (its heartbeat is still fresh: retry later).
 */
export class RelayRegistry {
  public constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Writes the announcement and starts the heartbeat. Also used by every beat (see `heartbeat`). */
  public async announce(announcement: RelayAnnouncement): Promise<void> {
    const a = relayAnnouncementSchema.parse(announcement)
    const ttlMs = a.heartbeatIntervalMs * RELAY_HEARTBEAT_TTL_FACTOR
    await this.redis
      .multi()
      .hset(this.keys.relays, a.relayId, JSON.stringify(a))
      .set(this.keys.relayHeartbeat(a.relayId), String(Date.now()), 'PX', ttlMs)
      .exec()
      .then(throwOnExecError)
  }

  /**
   * Refreshes the heartbeat, and says whether the registration had lapsed: workers took the relay for
   * dead in between (`pruneDead` removed its announcement, then its sessions from the directory) while
   * its sockets stayed open, or Redis lost its data. It rewrites the announcement too, so a Redis that
   * lost its data (restart without AOF) learns about the relay again at the next beat.
   */
  public async heartbeat(announcement: RelayAnnouncement): Promise<HeartbeatResult> {
    const a = relayAnnouncementSchema.parse(announcement)
    const ttlMs = a.heartbeatIntervalMs * RELAY_HEARTBEAT_TTL_FACTOR
    const results = await this.redis
      .multi()
      .hexists(this.keys.relays, a.relayId)
      .hset(this.keys.relays, a.relayId, JSON.stringify(a))
      .set(this.keys.relayHeartbeat(a.relayId), String(Date.now()), 'PX', ttlMs)
      .exec()
    throwOnExecError(results)
    return { lapsed: results?.[0]?.[1] === 0 }
  }

  /** Removes the relay at once, so workers stop sending to it before its heartbeat would expire. */
  public async withdraw(relayId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.relayHeartbeat(relayId))
      .hdel(this.keys.relays, relayId)
      .exec()
      .then(throwOnExecError)
  }

  /** The relay's announcement, alive or not; null if it never announced or withdrew. */
  public async get(relayId: string): Promise<RelayAnnouncement | null> {
    const raw = await this.redis.hget(this.keys.relays, relayId)
    return raw === null ? null : parseAnnouncement(raw)
  }

  public async isAlive(relayId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.relayHeartbeat(relayId))) === 1
  }

  /** Every relay whose heartbeat is fresh. Entries of dead relays are left for `pruneDead`. */
  public async listAlive(): Promise<RelayAnnouncement[]> {
    const all = await this.redis.hgetall(this.keys.relays)
    const ids = Object.keys(all)
    if (ids.length === 0) return []
    const pipeline = this.redis.pipeline()
    for (const id of ids) pipeline.exists(this.keys.relayHeartbeat(id))
    const results = (await pipeline.exec()) ?? []
    const alive: RelayAnnouncement[] = []
    ids.forEach((id, i) => {
      const [err, exists] = results[i] ?? [null, 0]
      const raw = all[id]
      if (!err && exists === 1 && raw !== undefined) {
        const a = parseAnnouncement(raw)
        if (a) alive.push(a)
      }
    })
    return alive
  }

  /** Every announced relay with its last beat, dead ones included (for operators). */
  public async listAll(): Promise<Array<RegistryMember<RelayAnnouncement>>> {
    return readRegistry(this.redis, this.keys.relays, (id) => this.keys.relayHeartbeat(id), parseAnnouncement)
  }

  /**
   * Removes the announcements of relays that died without withdrawing: their heartbeat expired and,
   * when a `probe` is given, they do not answer it either (a relay that answers is only late). The
   * caller then drops their sessions; the relay, should it be alive after all, sees its registration
   * lapsed at its next beat.
   */
  public async pruneDead(probe?: RelayProbe): Promise<string[]> {
    const all = await this.redis.hgetall(this.keys.relays)
    const dead: string[] = []
    for (const [id, raw] of Object.entries(all)) {
      if (await this.isAlive(id)) continue
      const announcement = parseAnnouncement(raw)
      if (probe && announcement && (await probe(announcement).catch(() => false))) continue
      dead.push(id)
    }
    if (dead.length > 0) await this.redis.hdel(this.keys.relays, ...dead)
    return dead
  }
}

function parseAnnouncement(raw: string): RelayAnnouncement | null {
  return parseWith(raw, relayAnnouncementSchema)
}
