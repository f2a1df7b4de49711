import { Kms, TypedArrayEncoder, type AgentContext } from '@credo-ts/core'
import { DidCommDocumentService } from '@credo-ts/didcomm'
import { isTransientError } from '../inbound/error-classification.js'
import { TaggedExpiringCache } from '../cache/tagged-expiring-cache.js'

/** One of our connection keys: the KMS key that opens envelopes sent to it, and the DID it belongs to. */
export interface OurKey {
  keyId: string
  did: string
}

export interface OurKeysOptions {
  ttlMs?: number
  maxEntries?: number
  now?: () => number
}

/**
 * The recipient keys of authcrypted envelopes (base58, as `kid` carries them) that are keys of a DID
 * we created, with their KMS key id, resolved the way Credo's `extractOurRecipientKeyWithKeyId` does
 * its first (DID record) step, and kept per process. A kid that is not one of our DIDs' keys (a
 * routing key, an out-of-band key, a legacy key) is not answered here: Credo's path handles those.
 */
export class OurKeys {
  private readonly cache: TaggedExpiringCache<OurKey>

  public constructor(
    private readonly agentContext: AgentContext,
    options: OurKeysOptions = {},
  ) {
    this.cache = new TaggedExpiringCache({ ttlMs: options.ttlMs ?? 60_000, maxEntries: options.maxEntries ?? 100_000, now: options.now })
  }

  public find(kid: string): Promise<OurKey | undefined> {
    return this.cache.getOrLoad(kid, () => this.lookup(kid), (key) => [key.did])
  }

  public invalidateDid(did: string): void {
    this.cache.invalidateTag(did)
  }

  public clear(): void {
    this.cache.clear()
  }

  private async lookup(kid: string): Promise<OurKey | undefined> {
    const ctx = this.agentContext
    try {
      const publicJwk = Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(kid) })
      const { didDocument, keys } = await ctx.dependencyManager
        .resolve(DidCommDocumentService)
        .resolveCreatedDidDocumentWithKeysByRecipientKey(ctx, publicJwk)
      const method = didDocument.findVerificationMethodByPublicKey(publicJwk)
      const keyId = keys?.find(({ didDocumentRelativeKeyId }) => method.id.endsWith(didDocumentRelativeKeyId))?.kmsKeyId
      return { keyId: keyId ?? publicJwk.legacyKeyId, did: didDocument.id }
    } catch (error) {
      // Not ours, not a key, two records for it: Credo's path decides what that means.
      if (isTransientError(error)) throw error
      return undefined
    }
  }
}
