import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Registry } from 'prom-client'
import {
  DidCommEnvelopeService,
  DidCommLiveDeliveryChangeV2Message,
  DidCommMediationRecord,
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
  DidCommMessagesReceivedV2Message,
  type DidCommEncryptedMessage,
} from '@credo-ts/didcomm'
import type { LiveSessionDirectory, LiveSessionEntry } from '@mediator/redis'
import { JobProcessor } from '../../src/inbound/job-processor.js'
import type { ForwardInvalidation } from '../../src/forward/index.js'
import { didDigest, SessionTrust, type SessionTrustOptions } from '../../src/pickup-fast/index.js'
import {
  deliverThree as deliverThreeTo,
  inboundJob,
  pickupFastPathOf,
  silentLogger,
  startInvalidation,
  startPairedAgentsWithLiveSessions,
  type PairedAgents,
} from './support.js'

const PICKUP = 'https://didcomm.org/messagepickup/2.0'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('SessionTrust', () => {
  const at = (start = 1_000_000) => {
    let now = start
    return { now: () => now, advance: (ms: number) => void (now += ms) }
  }

  it('trusts a registration made after it started, with the skew to spare, for at most maxAgeMs', () => {
    const clock = at()
    const trust = new SessionTrust({ now: clock.now, skewMs: 1_000, maxAgeMs: 60_000 })
    // Made before this worker could hear of changes (or within the skew of that): not trusted.
    expect(trust.trusts(clock.now() - 1, 'c1', ['d1'])).toBe(false)
    expect(trust.trusts(clock.now() + 1_000, 'c1', ['d1'])).toBe(false)
    clock.advance(5_000)
    const registeredAt = clock.now()
    expect(trust.trusts(registeredAt, 'c1', ['d1'])).toBe(true)
    clock.advance(60_001)
    expect(trust.trusts(registeredAt, 'c1', ['d1'])).toBe(false)
  })

  it('stops trusting a registration when its connection or one of its DIDs changed after it', () => {
    const clock = at()
    const trust = new SessionTrust({ now: clock.now, skewMs: 1_000 })
    clock.advance(5_000)
    const registeredAt = clock.now()
    clock.advance(10)
    trust.invalidateConnection('other')
    trust.invalidateDid('did:peer:other')
    expect(trust.trusts(registeredAt, 'c1', [])).toBe(true)
    trust.invalidateConnection('c1')
    expect(trust.trusts(registeredAt, 'c1', [])).toBe(false)
    // A registration well after the change is trusted again.
    clock.advance(2_000)
    expect(trust.trusts(clock.now(), 'c1', [])).toBe(true)

    const later = clock.now()
    clock.advance(10)
    trust.invalidateDid('did:peer:ours')
    expect(trust.trusts(later, 'c2', [didDigest('did:peer:theirs')])).toBe(true)
    expect(trust.trusts(later, 'c2', [didDigest('did:peer:theirs'), didDigest('did:peer:ours')])).toBe(false)
  })

  it('trusts nothing registered before signals may have been missed, or before a change it forgot', () => {
    const clock = at()
    const trust = new SessionTrust({ now: clock.now, skewMs: 0, maxMarks: 2 })
    clock.advance(1_000)
    const registeredAt = clock.now()
    clock.advance(10)
    trust.clear()
    expect(trust.trusts(registeredAt, 'c1', [])).toBe(false)

    clock.advance(1_000)
    const next = clock.now()
    clock.advance(10)
    trust.invalidateConnection('a')
    trust.invalidateConnection('b')
    expect(trust.trusts(next, 'c1', [])).toBe(true)
    // A third change pushes the first out of memory: it might have been c1's, so c1 is not trusted.
    trust.invalidateConnection('c')
    expect(trust.trusts(next, 'c1', [])).toBe(false)
  })
})

/**
 * A wallet's messages on the socket it turned live mode on for are attributed to its connection by
 * the socket's live session (one Redis read), not by the storage lookups of OurKeys and
 * ConnectionsByKeys; they are handled exactly as before, and whatever the session cannot vouch for
 * is looked up as before.
 */
describe('messages on a live socket attributed by its session', () => {
  let p: PairedAgents
  let directory: LiveSessionDirectory
  let invalidation: ForwardInvalidation
  let fastProcessor: JobProcessor
  let credoProcessor: JobProcessor
  let registry: Registry
  /** Another worker's fast path on the same agent, its own caches and trust, started when called. */
  let anotherWorker: (sessionTrust: SessionTrustOptions) => { processor: JobProcessor; registry: Registry }
  const invalidations: ForwardInvalidation[] = []

  beforeAll(async () => {
    const started = await startPairedAgentsWithLiveSessions('socket_sessions')
    ;({ p, directory } = started)
    const { sessions, writes } = started
    const socketCloseHandler = { socketClosed: async () => undefined }
    const common = { agentContext: p.mediator.context, relay: p.relayClient, socketCloseHandler }
    const worker = (sessionTrust: SessionTrustOptions) => {
      const workerRegistry = new Registry()
      const fastPath = pickupFastPathOf(p, {
        socketCloseHandler,
        liveSessions: sessions,
        registry: workerRegistry,
        directory,
        sessionTrust,
      })
      const processor = new JobProcessor({ ...common, backgroundWrites: writes, shortcut: fastPath.shortcut })
      return { processor, registry: workerRegistry, caches: fastPath.caches }
    }
    // The relay's clock is this process's here: no skew to allow for.
    const first = worker({ skewMs: 0 })
    ;({ processor: fastProcessor, registry } = first)
    invalidation = await startInvalidation(p, first.caches)
    anotherWorker = (sessionTrust) => {
      const other = worker(sessionTrust)
      void startInvalidation(p, other.caches).then((started) => invalidations.push(started))
      return other
    }
    credoProcessor = new JobProcessor({ ...common, backgroundWrites: writes })
    // Registrations must come after the trust's start, by the clock's resolution.
    await sleep(5)
  }, 60_000)
  afterAll(async () => {
    for (const started of [invalidation, ...invalidations]) await started?.close()
    await p?.close()
  })

  async function handled(from: Registry): Promise<Record<string, number>> {
    const metric = await from.getSingleMetric('mediator_pickup_fast_total')?.get()
    const counts: Record<string, number> = {}
    for (const v of metric?.values ?? []) counts[`${v.labels.message}/${v.labels.attributed}`] = v.value
    return counts
  }

  /** How the connection of the next fast-path message was found. */
  async function attribution(fn: () => Promise<void>, from = registry): Promise<string[]> {
    const before = await handled(from)
    await fn()
    const after = await handled(from)
    return Object.keys(after).filter((k) => after[k] !== (before[k] ?? 0))
  }

  function packed(message: DidCommLiveDeliveryChangeV2Message | DidCommMessagesReceivedV2Message): Promise<DidCommEncryptedMessage> {
    return p.wallet.context
      .resolve(DidCommEnvelopeService)
      .packMessage(p.wallet.context, message, { recipientKeys: [p.mediatorJwk], routingKeys: [], senderKey: p.walletJwk })
  }

  async function onSocket(processor: JobProcessor, socketId: string, envelope: DidCommEncryptedMessage): Promise<unknown[]> {
    const job = { ...inboundJob(p, JSON.stringify(envelope)), socketId }
    const earlier = p.relay.writesTo(socketId).length
    await processor.processMessage(job, silentLogger)
    const replies = await Promise.all(
      p.relay.writesTo(socketId).slice(earlier).map(async (body) => {
        const { plaintextMessage } = await p.wallet.context
          .resolve(DidCommEnvelopeService)
          .unpackMessage(p.wallet.context, JSON.parse(body) as DidCommEncryptedMessage)
        return plaintextMessage as Record<string, unknown>
      }),
    )
    return replies.filter((r) => r['@type'] === `${PICKUP}/status`).map(({ '@id': _id, newest_received_time: _n, oldest_received_time: _o, ...rest }) => rest)
  }

  async function liveOn(socketId: string): Promise<void> {
    await onSocket(fastProcessor, socketId, await packed(new DidCommLiveDeliveryChangeV2Message({ liveDelivery: true })))
  }

  const deliverThree = () => deliverThreeTo(p)

  /** A session written straight into the directory, on a socket of the test relay, registered now. */
  function registerOnSocket(connectionId: string, socketId: string, keys: LiveSessionEntry['keys']): Promise<unknown> {
    return directory.register(connectionId, { relayId: p.relay.relayId, socketId, transport: 'ws', registeredAt: Date.now(), keys })
  }

  async function confirm(processor: JobProcessor, socketId: string, ids: string[], id = randomUUID()): Promise<unknown[]> {
    return onSocket(processor, socketId, await packed(new DidCommMessagesReceivedV2Message({ messageIdList: ids, id })))
  }

  it('takes the connection of a confirmation on a live socket from its session, and answers as Credo does', async () => {
    const socket = randomUUID()
    expect(await attribution(() => liveOn(socket))).toEqual(['live-mode-on/lookup'])
    const entry = await directory.lookup(p.connectionId)
    expect(entry?.socketId).toBe(socket)

    const ids = await deliverThree()
    const id = randomUUID()
    let fastStatuses: unknown[] = []
    expect(await attribution(async () => void (fastStatuses = await confirm(fastProcessor, socket, ids.slice(0, 2), id)))).toEqual([
      'messages-received/socket',
    ])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 1 })

    // The same confirmation on Credo's path, from the same state.
    const again = await deliverThree()
    const credoStatuses = await confirm(credoProcessor, randomUUID(), again.slice(0, 2), id)
    expect(fastStatuses).toEqual(credoStatuses)
    expect(fastStatuses).toEqual([{ '@type': `${PICKUP}/status`, message_count: 0, '~thread': expect.any(Object), '~transport': { return_route: 'all' } }])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 1 })

    // Turning live mode on again on the same socket keeps what makes it attributable.
    expect(await attribution(() => liveOn(socket))).toEqual(['live-mode-on/socket'])
    expect(await attribution(async () => void (await confirm(fastProcessor, socket, [])))).toEqual(['messages-received/socket'])
  })

  it('looks the connection up for a socket that is not live', async () => {
    await liveOn(randomUUID())
    const ids = await deliverThree()
    expect(await attribution(async () => void (await confirm(fastProcessor, randomUUID(), ids)))).toEqual(['messages-received/lookup'])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 0 })
  })

  it('looks the connection up again once it or one of its DIDs changed, or signals may have been lost', async () => {
    const connection = await p.mediator.didcomm.connections.getById(p.connectionId)
    const changes = [{ connectionId: p.connectionId }, { did: connection.did ?? '?' }, { did: connection.theirDid ?? '?' }, { all: true as const }]
    for (const change of changes) {
      const socket = randomUUID()
      await liveOn(socket)
      expect(await attribution(async () => void (await confirm(fastProcessor, socket, [])))).toEqual(['messages-received/socket'])
      await sleep(2)
      invalidation.publish(change)
      const ids = await deliverThree()
      expect(await attribution(async () => void (await confirm(fastProcessor, socket, ids)))).toEqual(['messages-received/lookup'])
      expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 0 })
      // A socket that goes live after the change is attributable again.
      await sleep(2)
      const next = randomUUID()
      await liveOn(next)
      expect(await attribution(async () => void (await confirm(fastProcessor, next, [])))).toEqual(['messages-received/socket'])
    }
  })

  it('keeps attributing from the socket when the wallet changes its keylist', async () => {
    // A wallet adds a key to its keylist each time it makes a connection, while its socket stays live:
    // its mediation record is written, not its connection or DIDs.
    const repository = p.mediator.context.resolve(DidCommMediationRepository)
    const mediation = new DidCommMediationRecord({
      connectionId: p.connectionId,
      threadId: randomUUID(),
      role: DidCommMediationRole.Mediator,
      state: DidCommMediationState.Granted,
      recipientKeys: [],
    })
    await repository.save(p.mediator.context, mediation)
    const socket = randomUUID()
    await liveOn(socket)
    await sleep(2)
    mediation.addRecipientKey('8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K')
    await repository.update(p.mediator.context, mediation)
    const ids = await deliverThree()
    expect(await attribution(async () => void (await confirm(fastProcessor, socket, ids)))).toEqual(['messages-received/socket'])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 0 })
    await repository.delete(p.mediator.context, mediation)
  })

  it('looks a session up once for a worker started after it, then every worker attributes from the socket', async () => {
    const socket = randomUUID()
    await liveOn(socket)
    await sleep(2)
    // A worker added since (a scale-out, a restart) cannot know what changed before it started.
    const late = anotherWorker({ skewMs: 0 })
    const ids = await deliverThree()
    expect(await attribution(async () => void (await confirm(late.processor, socket, ids.slice(0, 1))), late.registry)).toEqual([
      'messages-received/lookup',
    ])
    // Its lookup found the session's own connection and keys: the entry is stamped, so the next
    // confirmations need none, on this worker or any other.
    expect((await directory.lookup(p.connectionId))?.checkedAt).toBeGreaterThan(0)
    expect(await attribution(async () => void (await confirm(late.processor, socket, ids.slice(1, 2))), late.registry)).toEqual([
      'messages-received/socket',
    ])
    expect(await attribution(async () => void (await confirm(fastProcessor, socket, ids.slice(2))))).toEqual(['messages-received/socket'])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 0 })
  })

  it('looks a session up again once its check is older than maxAgeMs, once', async () => {
    const brief = anotherWorker({ skewMs: 0, maxAgeMs: 200 })
    await sleep(2)
    const socket = randomUUID()
    await liveOn(socket)
    expect(await attribution(async () => void (await confirm(brief.processor, socket, [])), brief.registry)).toEqual(['messages-received/socket'])
    await sleep(250)
    expect(await attribution(async () => void (await confirm(brief.processor, socket, [])), brief.registry)).toEqual(['messages-received/lookup'])
    expect(await attribution(async () => void (await confirm(brief.processor, socket, [])), brief.registry)).toEqual(['messages-received/socket'])
  })

  it('does not vouch for a session whose lookup finds other DIDs than it was checked with', async () => {
    await liveOn(randomUUID())
    const live = await directory.lookup(p.connectionId)
    const keys = live?.keys as { recipientKeys: string[]; senderKey: string; senderKeyId: string; checkedDids: string[] }
    const socket = randomUUID()
    // The wallet's own session, but checked with a DID the connection no longer has.
    await registerOnSocket(p.connectionId, socket, { ...keys, checkedDids: [didDigest('did:peer:rotated-away')] })
    const late = anotherWorker({ skewMs: 0 })
    for (let i = 0; i < 2; i++) {
      expect(await attribution(async () => void (await confirm(late.processor, socket, [])), late.registry)).toEqual(['messages-received/lookup'])
    }
    expect((await directory.lookup(p.connectionId))?.checkedAt).toBeUndefined()
  })

  it('does not take a session for another wallet, or one written without the fast path, for the sender', async () => {
    const live = randomUUID()
    await liveOn(live)
    const ourKeyId = ((await directory.lookup(p.connectionId))?.keys as { senderKeyId: string }).senderKeyId
    const socket = randomUUID()
    // Another connection's session on this socket under our key, checked for another wallet's key.
    await registerOnSocket('another-connection', socket, { recipientKeys: ['8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K'], senderKey: p.mediatorKey, senderKeyId: ourKeyId, checkedDids: ['x'] })
    const ids = await deliverThree()
    expect(await attribution(async () => void (await confirm(fastProcessor, socket, ids)))).toEqual(['messages-received/lookup'])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 0 })

    // This wallet's session, as Credo's path saves it (no checked DIDs): looked up.
    const credoSocket = randomUUID()
    await registerOnSocket(p.connectionId, credoSocket, { recipientKeys: [p.walletKey], senderKey: p.mediatorKey, senderKeyId: ourKeyId })
    expect(await attribution(async () => void (await confirm(fastProcessor, credoSocket, [])))).toEqual(['messages-received/lookup'])
  })
})
