import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Kms, TypedArrayEncoder, verkeyToDidKey, type EventEmitter } from '@credo-ts/core'
import {
  DidCommEnvelopeService,
  DidCommMediationRepository,
  DidCommMediationState,
  DidCommMessageReceiver,
  DidCommTrustPingMessage,
  DidCommMediatorRoutingRepository,
} from '@credo-ts/didcomm'
import type { InboundMessageJob } from '@mediator/contracts'
import { BackgroundWrites } from '../../src/pickup/background-writes.js'
import {
  EnvelopePacker,
  ForwardInvalidation,
  ForwardRecipients,
  RoutingKeys,
  startForwardFastPath,
  type ForwardShortcut,
} from '../../src/forward/index.js'
import { newEd25519, silentLogger, startReferenceMediator, type ReferenceMediator } from './support.js'

type Outcome = { handled: 'fast' | 'credo'; queued: unknown[] } | { handled: 'rejected'; error: string }

describe('forward fast path against the Credo path', () => {
  let m: ReferenceMediator
  let fast: ForwardShortcut & { close(): Promise<void> }
  let packer: EnvelopePacker
  let routingKey: string

  beforeAll(async () => {
    m = await startReferenceMediator('fwd_equiv')
    fast = await startForwardFastPath({
      agent: m.agent,
      kms: m.kms,
      queue: m.queue,
      backgroundWrites: new BackgroundWrites(),
      redis: m.redis,
      redisPrefix: m.redisPrefix,
      logger: silentLogger,
    })
    packer = new EnvelopePacker(m.kms)
    const record = await m.agent.context
      .resolve(DidCommMediatorRoutingRepository)
      .getById(m.ctx, 'MEDIATOR_ROUTING_RECORD')
    const key = record.routingKeysWithKeyId[0]
    if (!key) throw new Error('no routing key')
    routingKey = TypedArrayEncoder.toBase58(key.publicKey.publicKey)
  })
  afterAll(async () => {
    await fast?.close()
    await m?.close()
  })

  const job = (payload: string): InboundMessageJob => ({
    v: 1,
    kind: 'message',
    relayId: 'relay-test',
    socketId: randomUUID(),
    transport: 'http',
    messageId: randomUUID(),
    receivedAt: Date.now(),
    payload,
    replyExpected: false,
    headers: {},
  })

  const innerEnvelope = () => ({ protected: 'e30', iv: randomUUID(), ciphertext: randomUUID(), tag: randomUUID() })

  const anoncrypt = (message: unknown, to = routingKey) => packer.pack(m.ctx, message, { recipientKeys: [to] })

  const forwardJson = (to: string, msg: unknown = innerEnvelope(), type = 'https://didcomm.org/routing/1.0/forward') => ({
    '@type': type,
    '@id': randomUUID(),
    to,
    msg,
  })

  /** Runs one envelope through the fast path, and, when it declines, through Credo; reports the effect. */
  async function viaWorker(envelope: object, connectionId: string): Promise<Outcome> {
    const handled = await fast.tryHandle(job(JSON.stringify(envelope)), structuredClone(envelope) as Record<string, unknown>, silentLogger)
    if (handled) return { handled: 'fast', queued: await queuedFor(connectionId) }
    return viaCredo(envelope, connectionId)
  }

  async function viaCredo(envelope: object, connectionId: string): Promise<Outcome> {
    try {
      await m.agent.context.resolve(DidCommMessageReceiver).receiveMessage(structuredClone(envelope))
    } catch (error) {
      return { handled: 'rejected', error: (error as Error).name }
    }
    return { handled: 'credo', queued: await queuedFor(connectionId) }
  }

  async function queuedFor(connectionId: string) {
    return (await m.drain(connectionId)).map((q) => q.encryptedMessage)
  }

  /** Both paths give the same result; returns which one took the message on the worker. */
  async function expectSameOutcome(envelope: object, connectionId: string): Promise<Outcome['handled']> {
    const worker = await viaWorker(envelope, connectionId)
    const reference = await viaCredo(envelope, connectionId)
    if (worker.handled === 'rejected' || reference.handled === 'rejected') {
      expect(worker).toEqual(reference)
    } else {
      expect(worker.queued).toEqual(reference.queued)
    }
    return worker.handled
  }

  it('queues a forward for a registered key exactly as Credo does, with the recipient did:key', async () => {
    const wallet = newEd25519()
    const { connection } = await m.addMediation([wallet.base58])
    const inner = innerEnvelope()
    const envelope = await anoncrypt(forwardJson(wallet.base58, inner))

    expect(await fast.tryHandle(job(JSON.stringify(envelope)), { ...envelope }, silentLogger)).toBe(true)
    const fastQueued = await m.drain(connection.id, verkeyToDidKey(wallet.base58))
    await m.agent.context.resolve(DidCommMessageReceiver).receiveMessage(structuredClone(envelope))
    const credoQueued = await m.drain(connection.id, verkeyToDidKey(wallet.base58))

    expect(fastQueued.map((q) => q.encryptedMessage)).toEqual([inner])
    expect(credoQueued.map((q) => q.encryptedMessage)).toEqual([inner])
  })

  it('takes a forward that Credo itself packed (authcrypted inner message)', async () => {
    const wallet = newEd25519()
    await m.kms.importKey(m.ctx, { privateJwk: { ...wallet.privateJwk, kid: wallet.base58 } })
    const sender = await m.kms.createKey(m.ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    const senderKey = Kms.PublicJwk.fromPublicJwk(sender.publicJwk)
    senderKey.keyId = sender.keyId
    const ed25519 = (base58: string) =>
      Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(base58) })
    const { connection } = await m.addMediation([wallet.base58])
    const envelope = await m.agent.context.resolve(DidCommEnvelopeService).packMessage(m.ctx, new DidCommTrustPingMessage({}), {
      recipientKeys: [ed25519(wallet.base58)],
      routingKeys: [ed25519(routingKey)],
      senderKey,
    })
    expect(await expectSameOutcome(envelope, connection.id)).toBe('fast')
  })

  it('takes the legacy did:sov prefix like Credo', async () => {
    const wallet = newEd25519()
    const { connection } = await m.addMediation([wallet.base58])
    const legacy = forwardJson(wallet.base58, innerEnvelope(), 'did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/routing/1.0/forward')
    expect(await expectSameOutcome(await anoncrypt(legacy), connection.id)).toBe('fast')
  })

  it('leaves a forward for an unknown key to Credo, which rejects it', async () => {
    const { connection } = await m.addMediation([newEd25519().base58])
    const outcome = await viaWorker(await anoncrypt(forwardJson(newEd25519().base58)), connection.id)
    expect(outcome).toEqual({ handled: 'rejected', error: 'RecordNotFoundError' })
  })

  it('leaves a did:key `to` to Credo: stock Credo 0.6.3 looks `to` up verbatim and rejects it', async () => {
    const wallet = newEd25519()
    const { connection } = await m.addMediation([wallet.base58])
    const envelope = await anoncrypt(forwardJson(verkeyToDidKey(wallet.base58)))
    expect(await viaWorker(envelope, connection.id)).toEqual({ handled: 'rejected', error: 'RecordNotFoundError' })
    expect(await expectSameOutcome(envelope, connection.id)).toBe('rejected')
  })

  it('resolves a did:key `to` only when told the worker\'s forward handler accepts it', async () => {
    const wallet = newEd25519()
    const { connection } = await m.addMediation([wallet.base58])
    const recipients = new ForwardRecipients(m.ctx, { acceptDidKeyTo: true })
    expect(await recipients.find(verkeyToDidKey(wallet.base58))).toMatchObject({
      connectionId: connection.id,
      recipientDid: verkeyToDidKey(wallet.base58),
    })
    expect(await new ForwardRecipients(m.ctx).find(verkeyToDidKey(wallet.base58))).toBeUndefined()
  })

  it('leaves anything that is not a forward to Credo', async () => {
    const { connection } = await m.addMediation([newEd25519().base58])
    const ping = await anoncrypt({ '@type': 'https://didcomm.org/trust_ping/1.0/ping', '@id': randomUUID() })
    const handled = await fast.tryHandle(job(JSON.stringify(ping)), { ...ping }, silentLogger)
    expect(handled).toBe(false)
    expect(await expectSameOutcome(ping, connection.id)).not.toBe('fast')
  })

  it('leaves forwards in an unusual shape to Credo, which decides (here: accepts)', async () => {
    const wallet = newEd25519()
    const { connection } = await m.addMediation([wallet.base58])
    const withThread = { ...forwardJson(wallet.base58), '~thread': { thid: randomUUID() } }
    expect(await expectSameOutcome(await anoncrypt(withThread), connection.id)).toBe('credo')
  })

  it('leaves a forward to a mediation that is not granted to Credo, which rejects it', async () => {
    const wallet = newEd25519()
    const { connection } = await m.addMediation([wallet.base58], DidCommMediationState.Requested)
    expect(await expectSameOutcome(await anoncrypt(forwardJson(wallet.base58)), connection.id)).toBe('rejected')
  })

  it('leaves tampered, malformed and foreign envelopes to Credo', async () => {
    const wallet = newEd25519()
    const { connection } = await m.addMediation([wallet.base58])
    const good = await anoncrypt(forwardJson(wallet.base58))
    const flip = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1)
    const cases: object[] = [
      { ...good, ciphertext: flip(good.ciphertext) },
      { ...good, tag: flip(good.tag) },
      { ...good, protected: 'not-base64-json' },
      await anoncrypt(forwardJson(wallet.base58), newEd25519().base58),
      await packer.pack(m.ctx, forwardJson(wallet.base58), {
        recipientKeys: [routingKey],
        sender: await senderOf(m),
      }),
    ]
    for (const envelope of cases) {
      expect(await fast.tryHandle(job(JSON.stringify(envelope)), { ...envelope } as Record<string, unknown>, silentLogger)).toBe(false)
      expect(await expectSameOutcome(envelope, connection.id)).not.toBe('fast')
    }
  })

  it('stops routing a key as soon as the wallet removes it, in this worker and, through Redis, in others', async () => {
    const wallet = newEd25519()
    const { connection, mediation } = await m.addMediation([wallet.base58])
    // Another worker: it sees none of this process's record events, only the Redis signal.
    const otherRecipients = new ForwardRecipients(m.ctx, { ttlMs: 3_600_000 })
    const otherRoutingKeys = new RoutingKeys(m.ctx)
    const noEvents = { on: () => undefined, off: () => undefined } as unknown as EventEmitter
    const other = new ForwardInvalidation({
      events: noEvents,
      redis: m.redis,
      redisPrefix: m.redisPrefix,
      recipients: otherRecipients,
      routingKeys: otherRoutingKeys,
      logger: silentLogger,
    })
    await other.start()
    try {
      const envelope = await anoncrypt(forwardJson(wallet.base58))
      expect(await fast.tryHandle(job(JSON.stringify(envelope)), { ...envelope }, silentLogger)).toBe(true)
      expect(await otherRecipients.find(wallet.base58)).toMatchObject({ connectionId: connection.id })
      await m.drain(connection.id)

      mediation.removeRecipientKey(wallet.base58)
      await m.agent.context.resolve(DidCommMediationRepository).update(m.ctx, mediation)

      expect(await fast.tryHandle(job(JSON.stringify(envelope)), { ...envelope }, silentLogger)).toBe(false)
      await expect.poll(() => otherRecipients.size, { timeout: 5_000 }).toBe(0)
      expect(await otherRecipients.find(wallet.base58)).toBeUndefined()
      expect(await expectSameOutcome(envelope, connection.id)).toBe('rejected')
    } finally {
      await other.close()
    }
  })
})

async function senderOf(m: ReferenceMediator): Promise<{ publicKey: string; keyId: string }> {
  const key = await m.kms.createKey(m.ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
  return { publicKey: TypedArrayEncoder.toBase58(Buffer.from(key.publicJwk.x, 'base64url')), keyId: key.keyId }
}


