import { DidKey, Kms, TypedArrayEncoder, verkeyToDidKey, type AgentContext } from '@credo-ts/core'
import {
  DidCommConnectionRepository,
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
} from '@credo-ts/didcomm'
import { TaggedExpiringCache } from '../cache/tagged-expiring-cache.js'

/** Where a forward's `to` leads: the connection whose pickup queue gets the message. */
export interface ForwardRecipient {
  connectionId: string
  /** What Credo records as the queued message's recipient: `did:key` of `to`. */
  recipientDid: string
}

export interface ForwardRecipientsOptions {
  /** How long a resolved key is trusted without hearing of a change (a backstop; changes invalidate). */
  ttlMs?: number
  maxEntries?: number
  now?: () => number
  /**
   * Resolve a `to` written as did:key (Ed25519) by its base58 key. Stock Credo 0.6.3 looks `to` up
   * verbatim, so it cannot route those: leave this off unless the worker's forward handler accepts
   * did:key too, or the fast path would accept what the reference path rejects.
   */
  acceptDidKeyTo?: boolean
}

/**
 * Resolves a forward's recipient key to the mediation record's connection, as Credo's
 * `processForwardMessage` does (keylist query, mediation granted with us as mediator, connection
 * ready), and keeps the answer in a small per-process cache.
 *
 * Only positive answers are cached: a key that is not (yet) in any keylist is looked up every time,
 * so a key a wallet just added works at once. A cached answer can only go stale when a mediation
 * record or a connection changes; `invalidateConnection` drops every key of that connection (called
 * for changes seen in this process and, through Redis, in every other one), and the TTL bounds the
 * damage of a missed signal. A lookup that raced with an invalidation is used but not cached.
 */
export class ForwardRecipients {
  private readonly cache: TaggedExpiringCache<ForwardRecipient>
  /** Lookups in progress, so a burst of forwards for one new key queries once. */
  private readonly pending = new Map<string, Promise<ForwardRecipient | undefined>>()
  private readonly acceptDidKeyTo: boolean
  public hits = 0
  public misses = 0

  public constructor(
    private readonly agentContext: AgentContext,
    options: ForwardRecipientsOptions = {},
  ) {
    this.cache = new TaggedExpiringCache({ ttlMs: options.ttlMs ?? 15_000, maxEntries: options.maxEntries ?? 100_000, now: options.now })
    this.acceptDidKeyTo = options.acceptDidKeyTo ?? false
  }

  public get size(): number {
    return this.cache.size
  }

  /** The recipient of a forward to `to`, or undefined when Credo would not queue it (unknown key, not granted ...). */
  public async find(to: string): Promise<ForwardRecipient | undefined> {
    const hit = this.cache.get(to)
    if (hit) {
      this.hits++
      return hit
    }
    this.misses++
    let lookup = this.pending.get(to)
    if (!lookup) {
      lookup = this.cache
        .getOrLoad(to, () => this.lookup(to), (recipient) => [recipient.connectionId])
        .finally(() => this.pending.delete(to))
      this.pending.set(to, lookup)
    }
    return lookup
  }

  public invalidateConnection(connectionId: string): void {
    this.cache.invalidateTag(connectionId)
  }

  public clear(): void {
    this.cache.clear()
  }

  private async lookup(to: string): Promise<ForwardRecipient | undefined> {
    const ctx = this.agentContext
    const key = to.startsWith('did:key:') && this.acceptDidKeyTo ? didKeyToBase58(to) : to
    if (!key) return undefined
    const mediations = await ctx.dependencyManager
      .resolve(DidCommMediationRepository)
      .findByQuery(ctx, { recipientKeys: [key] }, { limit: 2 })
    // None: unknown key. Two: Credo's getSingleByQuery fails. Both are Credo's to report.
    if (mediations.length !== 1) return undefined
    const mediation = mediations[0]
    if (!mediation || mediation.state !== DidCommMediationState.Granted || mediation.role !== DidCommMediationRole.Mediator) {
      return undefined
    }
    const connection = await ctx.dependencyManager
      .resolve(DidCommConnectionRepository)
      .findById(ctx, mediation.connectionId)
    if (!connection?.isReady) return undefined
    let recipientDid: string
    try {
      recipientDid = verkeyToDidKey(key)
    } catch {
      return undefined
    }
    return { connectionId: connection.id, recipientDid }
  }
}

/** The base58 Ed25519 key of a did:key (fragment ignored), or undefined when it is not one. */
function didKeyToBase58(didKey: string): string | undefined {
  try {
    const jwk = DidKey.fromDid(didKey.split('#', 1)[0] ?? didKey).publicJwk
    return jwk.is(Kms.Ed25519PublicJwk) ? TypedArrayEncoder.toBase58(jwk.publicKey.publicKey) : undefined
  } catch {
    return undefined
  }
}
