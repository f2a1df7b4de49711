import { createHash } from 'node:crypto'
import type { LiveSessionDirectory } from '@mediator/redis'
import { liveSessionKeysSchema } from '../pickup/live-session-keys.js'
import type { InvalidationTarget } from '../forward/index.js'

/**
 * A short digest of a DID. Directory entries carry the digests of the DIDs their connection was found
 * with (a long-form did:peer:4 runs to kilobytes), and trust marks are kept by the same digest.
 */
export function didDigest(did: string): string {
  return createHash('sha256').update(did).digest('base64url').slice(0, 22)
}

/** The connection a message on a live socket belongs to, as checked when the socket went live. */
export interface SocketSession {
  connectionId: string
  /** The wallet's key (base58) the connection was found with: the envelope's sender must be it. */
  theirKey: string
  /** The KMS key id of our key (the envelope's kid). */
  ourKeyId: string
  /** Digests of our DID and theirs, to carry over when the socket registers again. */
  checkedDids: string[]
}

export interface SessionTrustOptions {
  /**
   * How far the relays' clocks (which stamp registrations) may run ahead of this worker's (which
   * stamps the changes it hears of). Default 10 s.
   */
  skewMs?: number
  /**
   * How long a registration is trusted at most, so that a change signal lost on its way costs no
   * more than this. Default 10 min.
   */
  maxAgeMs?: number
  /** Changes remembered; the oldest forgotten ones raise the floor instead. Default 100,000. */
  maxMarks?: number
  now?: () => number
}

/**
 * Whether a live session registered at a given time may still stand for its connection, judged from
 * the changes this worker has heard of (ForwardInvalidation's signals, local and from every other
 * worker): a registration is trusted only if it is younger than `maxAgeMs` and no change to its
 * connection or to either of its DIDs was heard after it (with `skewMs` to spare), nor was anything
 * missed (the subscription reconnecting, a change forgotten, before this worker started).
 */
export class SessionTrust implements InvalidationTarget {
  private readonly skewMs: number
  private readonly maxAgeMs: number
  private readonly maxMarks: number
  private readonly now: () => number
  /** Registrations before this are not trusted: signals before it were not heard (or were lost). */
  private floor: number
  /** Last change heard of, per `c:<connectionId>` / `d:<did digest>`, oldest first. */
  private readonly marks = new Map<string, number>()

  public constructor(options: SessionTrustOptions = {}) {
    this.skewMs = options.skewMs ?? 10_000
    this.maxAgeMs = options.maxAgeMs ?? 600_000
    this.maxMarks = options.maxMarks ?? 100_000
    this.now = options.now ?? Date.now
    this.floor = this.now()
  }

  public trusts(registeredAt: number, connectionId: string, checkedDids: readonly string[]): boolean {
    const now = this.now()
    if (registeredAt < now - this.maxAgeMs) return false
    let newest = this.floor
    for (const key of [`c:${connectionId}`, ...checkedDids.map((d) => `d:${d}`)]) newest = Math.max(newest, this.marks.get(key) ?? 0)
    return registeredAt > newest + this.skewMs
  }

  public invalidateConnection(connectionId: string): void {
    this.mark(`c:${connectionId}`)
  }

  public invalidateDid(did: string): void {
    this.mark(`d:${didDigest(did)}`)
  }

  public clear(): void {
    this.floor = this.now()
    this.marks.clear()
  }

  private mark(key: string): void {
    this.marks.delete(key)
    this.marks.set(key, this.now())
    if (this.marks.size <= this.maxMarks) return
    const [oldestKey, oldestAt] = this.marks.entries().next().value as [string, number]
    this.marks.delete(oldestKey)
    // A forgotten change must still count: everything registered before it is no longer trusted.
    this.floor = Math.max(this.floor, oldestAt)
  }
}

/** A session found on a socket, and whether it may stand for the message without a lookup. */
export interface SocketSessionFound {
  session: SocketSession
  trusted: boolean
}

/**
 * Finds the connection an authcrypted message arriving on a live socket belongs to from the socket's
 * directory entry (one Redis round trip), instead of the storage lookups of OurKeys and
 * ConnectionsByKeys: the pickup fast path checked the entry's keys against the connection when the
 * socket went live, and SessionTrust says whether that check still stands.
 *
 * A check stops standing with age (`maxAgeMs`), and a worker started after it never trusts it (it
 * cannot know what changed before it started). Either way the next message is looked up as before;
 * when that lookup finds the same connection, `vouch` stamps the entry with the time of the check,
 * which every worker then counts as the session's own: one lookup per socket per `maxAgeMs`, not one
 * per message, for a wallet that stays connected for hours or whose worker is new.
 */
export class SocketSessions {
  public constructor(
    private readonly directory: Pick<LiveSessionDirectory, 'sessionsOnSocket' | 'vouch'>,
    private readonly trust: SessionTrust,
  ) {}

  /** The session on the socket whose key is `ourKid`, if there is one, and whether it is trusted. */
  public async find(relayId: string, socketId: string, ourKid: string): Promise<SocketSessionFound | undefined> {
    let untrusted: SocketSession | undefined
    for (const [connectionId, entry] of await this.directory.sessionsOnSocket(relayId, socketId)) {
      const keys = liveSessionKeysSchema.safeParse(entry.keys)
      if (!keys.success) continue
      const { senderKey, senderKeyId, recipientKeys, checkedDids, delivery } = keys.data
      // Only entries the pickup fast path wrote from a connection it had found carry checkedDids.
      if (senderKey !== ourKid || !checkedDids || delivery !== undefined || recipientKeys.length !== 1) continue
      const session = { connectionId, theirKey: recipientKeys[0] as string, ourKeyId: senderKeyId, checkedDids }
      const checkedAt = Math.max(entry.registeredAt, entry.checkedAt ?? 0)
      if (this.trust.trusts(checkedAt, connectionId, checkedDids)) return { session, trusted: true }
      untrusted ??= session
    }
    return untrusted ? { session: untrusted, trusted: false } : undefined
  }

  /**
   * A lookup that began at `checkedAt` found exactly this session's connection, keys and DIDs: the
   * entry is stamped so that the socket's next messages need none. Returns whether the entry was still there.
   */
  public vouch(relayId: string, socketId: string, session: SocketSession, checkedAt: number): Promise<boolean> {
    return this.directory.vouch(session.connectionId, relayId, socketId, checkedAt)
  }
}

/** Whether a lookup's answer is the session's, to the DIDs it was checked with. */
export function sameSession(session: SocketSession, found: SocketSession): boolean {
  return (
    session.connectionId === found.connectionId &&
    session.theirKey === found.theirKey &&
    session.ourKeyId === found.ourKeyId &&
    session.checkedDids.length === found.checkedDids.length &&
    session.checkedDids.every((did, i) => did === found.checkedDids[i])
  )
}
