import { Kms, TypedArrayEncoder, type AgentContext } from '@credo-ts/core'
import { DidCommConnectionService } from '@credo-ts/didcomm'
import { isTransientError } from '../inbound/error-classification.js'
import { TaggedExpiringCache } from '../cache/tagged-expiring-cache.js'
import type { ConnectionByKeysQuery } from './connection-by-keys-query.js'

export interface KeyedConnection {
  connectionId: string
  ourDid?: string
  theirDid?: string
}

export interface ConnectionsByKeysOptions {
  /**
   * findByKeys as one statement on the Postgres storage (what the worker runs on). Without it, Credo's
   * own findByKeys (three queries) is used.
   */
  query?: Pick<ConnectionByKeysQuery, 'find'>
  ttlMs?: number
  maxEntries?: number
  now?: () => number
}

const connectionTag = (connectionId: string) => `connection:${connectionId}`
const didTag = (did: string) => `did:${did}`
const tagsOf = (c: KeyedConnection): string[] => [
  connectionTag(c.connectionId),
  ...(c.ourDid ? [didTag(c.ourDid)] : []),
  ...(c.theirDid ? [didTag(c.theirDid)] : []),
]

/**
 * The ready connection an authcrypted message belongs to, from (their key, our key), as Credo's
 * `DidCommConnectionService.findByKeys` finds it (received DID of the sender key, created DID of the
 * recipient key, the connection between the two, ready), kept per process. Only ready connections are
 * kept. A change of the connection or of either DID drops the entry (ForwardInvalidation's signals);
 * the TTL bounds what a lost signal can cost.
 */
export class ConnectionsByKeys {
  private readonly cache: TaggedExpiringCache<KeyedConnection>
  private readonly query: Pick<ConnectionByKeysQuery, 'find'> | undefined

  public constructor(
    private readonly agentContext: AgentContext,
    options: ConnectionsByKeysOptions = {},
  ) {
    this.cache = new TaggedExpiringCache({ ttlMs: options.ttlMs ?? 15_000, maxEntries: options.maxEntries ?? 100_000, now: options.now })
    this.query = options.query
  }

  public get size(): number {
    return this.cache.size
  }

  /** The ready connection, or undefined when Credo would find none (or not a ready one). */
  public find(theirKey: string, ourKey: string): Promise<KeyedConnection | undefined> {
    return this.cache.getOrLoad(`${theirKey} ${ourKey}`, () => this.lookup(theirKey, ourKey), tagsOf)
  }

  public invalidateConnection(connectionId: string): void {
    this.cache.invalidateTag(connectionTag(connectionId))
  }

  public invalidateDid(did: string): void {
    this.cache.invalidateTag(didTag(did))
  }

  public clear(): void {
    this.cache.clear()
  }

  private async lookup(theirKey: string, ourKey: string): Promise<KeyedConnection | undefined> {
    const ctx = this.agentContext
    const ed25519 = (base58: string) =>
      Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(base58) })
    try {
      const senderKey = ed25519(theirKey)
      const recipientKey = ed25519(ourKey)
      if (this.query) {
        const found = await this.query.find(ctx.contextCorrelationId, senderKey.fingerprint, recipientKey.fingerprint)
        // Two records where Credo expects one: its own path throws RecordDuplicateError for that.
        if (found.kind !== 'found' || !found.connection.ready) return undefined
        const { connectionId, ourDid, theirDid } = found.connection
        return { connectionId, ourDid, theirDid }
      }
      const connection = await ctx.dependencyManager.resolve(DidCommConnectionService).findByKeys(ctx, { senderKey, recipientKey })
      if (!connection?.isReady) return undefined
      return { connectionId: connection.id, ourDid: connection.did, theirDid: connection.theirDid }
    } catch (error) {
      // Duplicate DID records and the like: Credo's path reports those its way.
      if (isTransientError(error)) throw error
      return undefined
    }
  }
}
