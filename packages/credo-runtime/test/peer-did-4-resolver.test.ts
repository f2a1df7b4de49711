import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  DidCommV1Service,
  DidDocument,
  DidDocumentRole,
  DidRecord,
  DidRepository,
  DidsModuleConfig,
  JsonTransformer,
  Kms,
  PeerDidResolver,
  VerificationMethod,
  createPeerDidDocumentFromServices,
  didDocumentToNumAlgo4Did,
  type AgentContext,
} from '@credo-ts/core'
import { SodiumKeyManagementService } from '@mediator/kms'
import { PostgresStorageService } from '@mediator/storage-postgres'
import { createTestSchema, type TestSchema } from '@mediator/test-support'
import { createCredoAgent, FastPeerDidResolver, numAlgo4Document, peerAgentDidcommOptions } from '@mediator/credo-runtime'

/** A real Ed25519 public key (32 random bytes are not always a point: documents convert it to X25519). */
const ed25519 = () => {
  const x = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string
  return Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: new Uint8Array(Buffer.from(x, 'base64url')) }) as Kms.PublicJwk<Kms.Ed25519PublicJwk>
}

/** A did:peer:4 as Credo's DID exchange makes one: one DIDComm service per endpoint, with routing keys. */
function peerDid4(services: number, routingKeys: number) {
  const { didDocument } = createPeerDidDocumentFromServices(
    Array.from({ length: services }, (_, i) => ({
      id: `#inline-${i}`,
      serviceEndpoint: `https://mediator-${i}.example.org/didcomm`,
      recipientKeys: [ed25519()],
      routingKeys: Array.from({ length: routingKeys }, ed25519),
    })),
    false,
  )
  return didDocumentToNumAlgo4Did(didDocument)
}

describe('FastPeerDidResolver', () => {
  let db: TestSchema
  let agent: ReturnType<typeof createCredoAgent>
  let ctx: AgentContext
  let kms: SodiumKeyManagementService
  const credo = new PeerDidResolver()
  const fast = new FastPeerDidResolver()

  beforeAll(async () => {
    db = await createTestSchema('credo_peer4')
    kms = await SodiumKeyManagementService.create({ pool: db.pool, masterKey: new Uint8Array(randomBytes(32)) })
    const storage = await PostgresStorageService.create({ pool: db.pool })
    await storage.provisionContext('default')
    agent = createCredoAgent({ kms, storage, didcomm: { ...peerAgentDidcommOptions, transports: { inbound: [], outbound: [] } } })
    await agent.initialize()
    ctx = agent.context
  })
  afterAll(async () => {
    await agent?.shutdown()
    kms?.close()
    await db?.drop()
  })

  const same = async (did: string) => {
    const [ours, theirs] = [await fast.resolve(ctx, did), await credo.resolve(ctx, did)]
    expect(JsonTransformer.toJSON(ours)).toEqual(JsonTransformer.toJSON(theirs))
    return ours
  }

  it('resolves long-form did:peer:4 to the document Credo resolves, class instances included, without Credo decoding it', async () => {
    const credoResolve = vi.spyOn(PeerDidResolver.prototype, 'resolve')
    try {
      for (const [services, routing] of [[1, 0], [1, 1], [2, 2], [3, 3]] as const) {
        const { longFormDid } = peerDid4(services, routing)
        credoResolve.mockClear()
        const fastResult = await fast.resolve(ctx, longFormDid)
        // Only the call for the comparison below; the fast path took none.
        expect(credoResolve).not.toHaveBeenCalled()
        const result = await same(longFormDid)
        expect(fastResult.didDocument).toBeInstanceOf(DidDocument)
        expect(fastResult.didDocument?.authentication?.[0]).toBeInstanceOf(VerificationMethod)
        expect(fastResult.didDocument?.service?.[0]).toBeInstanceOf(DidCommV1Service)
        expect(fastResult.didDocument?.recipientKeys.map((k) => k.fingerprint)).toEqual(result.didDocument?.recipientKeys.map((k) => k.fingerprint))
      }
    } finally {
      credoResolve.mockRestore()
    }
  })

  it('resolves a short form through its DID record, as Credo does', async () => {
    const { longFormDid, shortFormDid } = peerDid4(1, 1)
    await ctx.dependencyManager.resolve(DidRepository).save(ctx, new DidRecord({ did: longFormDid, role: DidDocumentRole.Created, tags: { alternativeDids: [shortFormDid] } }))
    const result = await same(shortFormDid)
    expect(result.didDocument?.id).toBe(longFormDid)
    // A short form nobody stored: Credo's notFound, word for word.
    const unknown = await same(peerDid4(1, 0).shortFormDid)
    expect(unknown.didResolutionMetadata.error).toBe('notFound')
  })

  it('answers what does not decode exactly as Credo does (its own code does it)', async () => {
    const { longFormDid } = peerDid4(1, 1)
    const [, hash, document] = /^did:peer:4(z\w+):(z\w+)$/.exec(longFormDid) ?? []
    if (!hash || !document) throw new Error(`not a long-form did:peer:4: ${longFormDid}`)
    const tampered = [
      // The document changed, the hash not.
      `did:peer:4${hash}:${document.slice(0, -1)}${document.endsWith('2') ? '3' : '2'}`,
      // A hash of the wrong document.
      `${peerDid4(1, 0).shortFormDid}:${document}`,
    ]
    for (const did of tampered) {
      expect(numAlgo4Document(did)).toBeUndefined()
      expect((await same(did)).didResolutionMetadata.error).toBe('notFound')
    }
  })

  it('leaves other did:peer numalgos to Credo', async () => {
    const { didDocument } = createPeerDidDocumentFromServices([{ id: '#a', serviceEndpoint: 'https://a.example.org', recipientKeys: [ed25519()], routingKeys: [] }], false)
    const numAlgo0 = `did:peer:0${didDocument.recipientKeys[0]?.fingerprint}`
    expect((await same(numAlgo0)).didDocument?.id).toBe(numAlgo0)
  })

  it('is the did:peer resolver of an agent made by createCredoAgent, and the only one', () => {
    const resolvers = agent.dependencyManager.resolve(DidsModuleConfig).resolvers
    expect(resolvers.filter((r) => r instanceof PeerDidResolver)).toHaveLength(1)
    expect(resolvers.some((r) => r instanceof FastPeerDidResolver)).toBe(true)
  })
})
