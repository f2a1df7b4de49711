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

/**
 * Finds the connection an authcrypted message arriving on a live socket belongs to from the socket's
 * directory entry (one Redis round trip), instead of the storage lookups of OurKeys and
 * ConnectionsByKeys: the pickup fast path checked the entry's keys against the connection when the
 * socket went live, and SessionTrust says whether that check still stands.
 */
export class SocketSessions {
  public constructor(
    private readonly directory: Pick<LiveSessionDirectory, 'sessionsOnSocket'>,
    private readonly trust: SessionTrust,
  ) {}

  /** The trusted session on the socket whose key is `ourKid`, if there is one. */
  public async find(relayId: string, socketId: string, ourKid: string): Promise<SocketSession | undefined> {
    for (const [connectionId, entry] of await this.directory.sessionsOnSocket(relayId, socketId)) {
      const keys = liveSessionKeysSchema.safeParse(entry.keys)
      if (!keys.success) continue
      const { senderKey, senderKeyId, recipientKeys, checkedDids, delivery } = keys.data
      // Only entries the pickup fast path wrote from a connection it had found carry checkedDids.
      if (senderKey !== ourKid || !checkedDids || delivery !== undefined || recipientKeys.length !== 1) continue
      if (!this.trust.trusts(entry.registeredAt, connectionId, checkedDids)) continue
      return { connectionId, theirKey: recipientKeys[0] as string, ourKeyId: senderKeyId, checkedDids }
    }
    return undefined
  }
}
