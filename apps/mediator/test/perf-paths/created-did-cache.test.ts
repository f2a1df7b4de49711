import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DidRepository, DidResolverService, Kms, RecordNotFoundError, TypedArrayEncoder, type Module } from '@credo-ts/core'
import { DidCommDocumentService, DidCommMessageReceiver, DidCommMessagesReceivedV2Message, DidCommEnvelopeService } from '@credo-ts/didcomm'
import type { ForwardInvalidation } from '../../src/forward/index.js'
import { CachingDidCommDocumentService, CreatedDidCache, registerCachingDocumentService } from '../../src/pickup-fast/index.js'
import { newEd25519 } from '../forward/support.js'
import { startInvalidation, startPairedAgents, type PairedAgents } from './support.js'

describe('created-DID cache in front of Credo’s document service', () => {
  const cache = new CreatedDidCache()
  const cachingModule: Module = { register: (dm) => registerCachingDocumentService(dm, cache) }
  let p: PairedAgents
  let invalidation: ForwardInvalidation

  beforeAll(async () => {
    // Registered after DIDComm, as the worker's cluster module does.
    p = await startPairedAgents('did_cache', { didCache: cachingModule })
    invalidation = await startInvalidation(p, [cache])
  }, 60_000)
  afterAll(async () => {
    await invalidation?.close()
    await p?.close()
  })

  const stock = () => {
    const ctx = p.mediator.context
    return new DidCommDocumentService(ctx.resolve(DidResolverService), ctx.resolve(DidRepository))
  }

  it('replaces DIDComm’s service and answers what Credo answers, from cache the second time', async () => {
    const ctx = p.mediator.context
    const service = ctx.resolve(DidCommDocumentService)
    expect(service).toBeInstanceOf(CachingDidCommDocumentService)
    const reference = await stock().resolveCreatedDidDocumentWithKeysByRecipientKey(ctx, p.mediatorJwk)
    const hits = cache.hits
    const first = await service.resolveCreatedDidDocumentWithKeysByRecipientKey(ctx, p.mediatorJwk)
    const second = await service.resolveCreatedDidDocumentWithKeysByRecipientKey(ctx, p.mediatorJwk)
    expect(first.didDocument.toJSON()).toEqual(reference.didDocument.toJSON())
    expect(first.keys).toEqual(reference.keys)
    expect(second).toBe(first)
    expect(cache.hits).toBeGreaterThan(hits)
  })

  it('does not remember a key that is not ours', async () => {
    const ctx = p.mediator.context
    const unknown = Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(newEd25519().base58) })
    const size = cache.size
    await expect(ctx.resolve(DidCommDocumentService).resolveCreatedDidDocumentWithKeysByRecipientKey(ctx, unknown)).rejects.toBeInstanceOf(RecordNotFoundError)
    expect(cache.size).toBe(size)
  })

  it('drops a DID’s entry when its record changes', async () => {
    const ctx = p.mediator.context
    const service = ctx.resolve(DidCommDocumentService)
    const { didDocument } = await service.resolveCreatedDidDocumentWithKeysByRecipientKey(ctx, p.mediatorJwk)
    const repository = ctx.resolve(DidRepository)
    const [record] = await repository.findByQuery(ctx, { did: didDocument.id })
    if (!record) throw new Error('no DID record')
    await repository.update(ctx, record)
    const misses = cache.misses
    await service.resolveCreatedDidDocumentWithKeysByRecipientKey(ctx, p.mediatorJwk)
    expect(cache.misses).toBe(misses + 1)
  })

  it('lets Credo unpack and process a wallet’s messages-received through it', async () => {
    const message = new DidCommMessagesReceivedV2Message({ messageIdList: [] })
    const envelope = await p.wallet.context
      .resolve(DidCommEnvelopeService)
      .packMessage(p.wallet.context, message, { recipientKeys: [p.mediatorJwk], routingKeys: [], senderKey: p.walletJwk })
    // Hit or miss depends on when the previous case's Redis signal echoes back; either way it went through the cache.
    const lookups = cache.hits + cache.misses
    const unpacked = await p.mediator.context.resolve(DidCommEnvelopeService).unpackMessage(p.mediator.context, envelope)
    expect((unpacked.plaintextMessage as { '@id': string })['@id']).toBe(message.id)
    expect(cache.hits + cache.misses).toBe(lookups + 1)
    // The whole of Credo's path (no session: the status it cannot send is Credo's usual error).
    await expect(p.mediator.context.resolve(DidCommMessageReceiver).receiveMessage(envelope)).rejects.toThrow(/undeliverable/)
  })
})
