import { DidRepository, DidResolverService } from '@credo-ts/core'
import type { AgentContext, DependencyManager, DidDocument, DidDocumentKey, Kms } from '@credo-ts/core'
import { DidCommDocumentService } from '@credo-ts/didcomm'
import { TaggedExpiringCache } from '../cache/tagged-expiring-cache.js'

export interface CreatedDid {
  didDocument: DidDocument
  keys: DidDocumentKey[] | undefined
}

export interface CreatedDidCacheOptions {
  /** A backstop for a change signal that never arrived (another worker's write, a lost pub/sub message). */
  ttlMs?: number
  maxEntries?: number
  now?: () => number
}

/**
 * Our own DIDs' resolved documents and KMS keys, by recipient key, per process. Credo resolves them on
 * every authcrypted message it unpacks: a tag query, a DidRecord rebuilt by class-transformer and, for
 * the long-form did:peer:4 of every mediator connection, a full decode of the document. did:peer
 * documents never change, so the answer can be kept; what can change is the DidRecord (deleted, or its
 * keys rewritten), and every such write drops the DID's entries (`invalidateDid`, from Credo's record
 * events here and, through Redis, in every other worker). Only found DIDs are kept: a key we do not
 * know yet is looked up every time, as Credo would.
 */
export class CreatedDidCache {
  private readonly cache: TaggedExpiringCache<CreatedDid>
  public hits = 0
  public misses = 0

  public constructor(options: CreatedDidCacheOptions = {}) {
    this.cache = new TaggedExpiringCache({ ttlMs: options.ttlMs ?? 60_000, maxEntries: options.maxEntries ?? 10_000, now: options.now })
  }

  public get size(): number {
    return this.cache.size
  }

  /** Bumped by every invalidation, so a lookup that raced with one is not cached (it may be stale). */
  public get generation(): number {
    return this.cache.generation
  }

  public get(key: string): CreatedDid | undefined {
    return this.cache.get(key)
  }

  /** Remembers a lookup started at `generation`, unless something was invalidated since. */
  public set(key: string, value: CreatedDid, generation: number): void {
    this.cache.set(key, value, [value.didDocument.id], generation)
  }

  public invalidateDid(did: string): void {
    this.cache.invalidateTag(did)
  }

  public clear(): void {
    this.cache.clear()
  }
}

/**
 * A cache key for a public key without Credo's fingerprint (multibase base58 of the multicodec key,
 * which costs more than the lookup it would save): the key type and its raw bytes.
 */
export function publicJwkCacheKey(agentContext: AgentContext, publicJwk: Kms.PublicJwk): string {
  const pub = publicJwk.publicKey as { kty: string; crv?: string; publicKey?: Uint8Array }
  const raw = pub.publicKey instanceof Uint8Array ? Buffer.from(pub.publicKey.buffer, pub.publicKey.byteOffset, pub.publicKey.byteLength).toString('base64') : publicJwk.fingerprint
  return `${agentContext.contextCorrelationId}|${pub.kty}|${pub.crv ?? ''}|${raw}`
}

/**
 * Credo's DidCommDocumentService with `resolveCreatedDidDocumentWithKeysByRecipientKey` answered from a
 * CreatedDidCache. Everything else, and every miss, is Credo's own code.
 */
export class CachingDidCommDocumentService extends DidCommDocumentService {
  public constructor(
    didResolverService: DidResolverService,
    didRepository: DidRepository,
    private readonly cache: CreatedDidCache,
  ) {
    super(didResolverService, didRepository)
  }

  public override async resolveCreatedDidDocumentWithKeysByRecipientKey(
    agentContext: AgentContext,
    publicJwk: Kms.PublicJwk,
  ): Promise<CreatedDid> {
    const key = publicJwkCacheKey(agentContext, publicJwk)
    const hit = this.cache.get(key)
    if (hit) {
      this.cache.hits++
      return hit
    }
    this.cache.misses++
    const generation = this.cache.generation
    // Not found throws Credo's RecordNotFoundError, as before: nothing is cached then.
    const found = await super.resolveCreatedDidDocumentWithKeysByRecipientKey(agentContext, publicJwk)
    this.cache.set(key, found, generation)
    return found
  }
}

/**
 * Puts the caching document service in place of DIDComm's. Call it from a module's `register` listed
 * after `didcomm` (the last registration wins). Its dependencies are resolved when Credo first asks
 * for the service, as tsyringe would for DIDComm's own (our classes carry no decorator metadata).
 */
export function registerCachingDocumentService(dependencyManager: DependencyManager, cache: CreatedDidCache): void {
  let instance: CachingDidCommDocumentService | undefined
  dependencyManager.container.register(DidCommDocumentService, {
    useFactory: (container) =>
      (instance ??= new CachingDidCommDocumentService(
        container.resolve(DidResolverService),
        container.resolve(DidRepository),
        cache,
      )),
  })
}
