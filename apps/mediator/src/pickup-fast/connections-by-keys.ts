import { Kms, TypedArrayEncoder, type AgentContext } from '@credo-ts/core'
import { DidCommConnectionService } from '@credo-ts/didcomm'
import { isTransientError } from '../inbound/error-classification.js'

export interface KeyedConnection {
  connectionId: string
  ourDid?: string
  theirDid?: string
}

export interface ConnectionsByKeysOptions {
  ttlMs?: number
  maxEntries?: number
  now?: () => number
}

interface Entry extends KeyedConnection {
  expiresAt: number
}

/**
 * The ready connection an authcrypted message belongs to, from (their key, our key), as Credo's
 * `DidCommConnectionService.findByKeys` finds it (received DID of the sender key, created DID of the
 * recipient key, the connection between the two, ready), kept per process. Only ready connections are
 * kept. A change of the connection or of either DID drops the entry (ForwardInvalidation's signals);
 * the TTL bounds what a lost signal can cost.
 */
export class ConnectionsByKeys {
  private readonly entries = new Map<string, Entry>()
  private readonly ttlMs: number
  private readonly maxEntries: number
  private readonly now: () => number
  private generation = 0

  public constructor(
    private readonly agentContext: AgentContext,
    options: ConnectionsByKeysOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 15_000
    this.maxEntries = options.maxEntries ?? 100_000
    this.now = options.now ?? Date.now
  }

  public get size(): number {
    return this.entries.size
  }

  /** The ready connection, or undefined when Credo would find none (or not a ready one). */
  public async find(theirKey: string, ourKey: string): Promise<KeyedConnection | undefined> {
    const key = `${theirKey} ${ourKey}`
    const hit = this.entries.get(key)
    if (hit && hit.expiresAt > this.now()) return hit
    if (hit) this.entries.delete(key)
    const generation = this.generation
    const found = await this.lookup(theirKey, ourKey)
    if (found && generation === this.generation) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
      this.entries.set(key, { ...found, expiresAt: this.now() + this.ttlMs })
    }
    return found
  }

  public invalidateConnection(connectionId: string): void {
    this.generation++
    for (const [key, entry] of this.entries) if (entry.connectionId === connectionId) this.entries.delete(key)
  }

  public invalidateDid(did: string): void {
    this.generation++
    for (const [key, entry] of this.entries) if (entry.ourDid === did || entry.theirDid === did) this.entries.delete(key)
  }

  public clear(): void {
    this.generation++
    this.entries.clear()
  }

  private async lookup(theirKey: string, ourKey: string): Promise<KeyedConnection | undefined> {
    const ctx = this.agentContext
    const ed25519 = (base58: string) =>
      Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(base58) })
    try {
      const connection = await ctx.dependencyManager
        .resolve(DidCommConnectionService)
        .findByKeys(ctx, { senderKey: ed25519(theirKey), recipientKey: ed25519(ourKey) })
      if (!connection?.isReady) return undefined
      return { connectionId: connection.id, ourDid: connection.did, theirDid: connection.theirDid }
    } catch (error) {
      // Duplicate DID records and the like: Credo's path reports those its way.
      if (isTransientError(error)) throw error
      return undefined
    }
  }
}
