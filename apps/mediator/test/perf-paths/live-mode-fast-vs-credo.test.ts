import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { DidCommEnvelopeService, DidCommLiveDeliveryChangeV2Message, type DidCommEncryptedMessage } from '@credo-ts/didcomm'
import type { LiveSessionDirectory } from '@mediator/redis'
import type { BackgroundWrites } from '../../src/pickup/background-writes.js'
import { ImplicitPickup } from '../../src/pickup/implicit-pickup.js'
import { JobProcessor, type InboundShortcut, type ShortcutResult } from '../../src/inbound/job-processor.js'
import { isTransientError } from '../../src/inbound/error-classification.js'
import type { ForwardInvalidation } from '../../src/forward/index.js'
import { didDigest } from '../../src/pickup-fast/index.js'
import {
  inboundJob,
  pickupFastPathOf,
  silentLogger,
  startInvalidation,
  startPairedAgentsWithLiveSessions,
  walletPacked,
  withRelayStatus,
  type PairedAgents,
} from './support.js'

const PICKUP = 'https://didcomm.org/messagepickup/2.0'

interface Run {
  fast: ShortcutResult | 'not-tried'
  transientError?: boolean
  /** The status answers, without their id and times. */
  statuses: unknown[]
  /** How many messages were delivered on the socket (their ids are new per run). */
  delivered: number
  /** The wallet's directory entry afterwards, without the fields that differ per job. */
  session?: { socketIsThisJobs: boolean; transport: string; registeredBy?: string; keys: unknown }
  /**
   * What only the fast path adds to the entry's keys: the digests of the DIDs it found the connection
   * with, which let later messages on the socket skip the lookup (socket-sessions.test.ts).
   */
  checkedDids?: unknown
  socketClosed: boolean
  pickupUserMarked: boolean
}

/**
 * The pickup fast path's `live-delivery-change` (every socket a wallet opens) against Credo's
 * processLiveDeliveryChange with the cluster's session service: same answer on the socket, same
 * live-session entry, same messages pushed, same record that the wallet speaks pickup.
 */
describe('live-delivery-change fast path against the Credo path', () => {
  let p: PairedAgents
  let directory: LiveSessionDirectory
  let invalidation: ForwardInvalidation
  let fastProcessor: JobProcessor
  let credoProcessor: JobProcessor
  let lastFast: ShortcutResult | 'not-tried' = 'not-tried'
  const closedSockets: string[] = []
  const pickupUserKey = () => `${p.redisPrefix}:implicit:pickup-user:${p.connectionId}`

  beforeAll(async () => {
    const started = await startPairedAgentsWithLiveSessions('live_mode_equiv')
    ;({ p, directory } = started)
    const { sessions, writes } = started
    const socketCloseHandler = { socketClosed: async (_relayId: string, socketId: string) => void closedSockets.push(socketId) }
    const implicit = (backgroundWrites: BackgroundWrites) =>
      new ImplicitPickup({ redis: p.redis, redisPrefix: p.redisPrefix, liveSessions: sessions, backgroundWrites, logger: silentLogger })
    // Credo's path marks pickup wallets from its message-processed event; the fast path is told directly.
    implicit(writes).attach(p.mediator)
    const fastPath = pickupFastPathOf(p, {
      socketCloseHandler,
      liveSessions: sessions,
      pickupUsers: implicit(writes),
    })
    invalidation = await startInvalidation(p, fastPath.caches)
    const recording: InboundShortcut = {
      tryHandle: async (...args) => (lastFast = await fastPath.shortcut.tryHandle(...args)),
    }
    const common = { agentContext: p.mediator.context, relay: p.relayClient, socketCloseHandler }
    fastProcessor = new JobProcessor({ ...common, backgroundWrites: writes, shortcut: recording })
    credoProcessor = new JobProcessor({ ...common, backgroundWrites: writes })
  }, 60_000)
  afterAll(async () => {
    await invalidation?.close()
    await p?.close()
  })

  /** What a Credo wallet sends when it opens a socket in live mode (its own class and envelope service). */
  async function credoLiveOn(id: string, liveDelivery = true): Promise<DidCommEncryptedMessage> {
    const message = new DidCommLiveDeliveryChangeV2Message({ liveDelivery, id })
    return p.wallet.context
      .resolve(DidCommEnvelopeService)
      .packMessage(p.wallet.context, message, { recipientKeys: [p.mediatorJwk], routingKeys: [], senderKey: p.walletJwk })
  }

  async function unpackForWallet(body: string): Promise<Record<string, unknown>> {
    const { plaintextMessage } = await p.wallet.context
      .resolve(DidCommEnvelopeService)
      .unpackMessage(p.wallet.context, JSON.parse(body) as DidCommEncryptedMessage)
    return plaintextMessage as Record<string, unknown>
  }

  /** A fresh start for the wallet: no session, `queued` messages waiting, `inFlight` delivered but unconfirmed. */
  async function reset(queued: number, inFlight = 0): Promise<void> {
    const ctx = p.mediator.context
    const entry = await directory.lookup(p.connectionId)
    if (entry) await directory.unregister(p.connectionId, entry.socketId, entry.relayId)
    await p.queue.deleteConnection(p.connectionId)
    for (let i = 0; i < queued + inFlight; i++) {
      await p.queue.addMessage(ctx, { connectionId: p.connectionId, recipientDids: [], payload: { protected: 'e30', iv: `iv${i}`, ciphertext: 'c', tag: 't' } })
    }
    if (inFlight > 0) await p.queue.takeFromQueue(ctx, { connectionId: p.connectionId, limit: inFlight })
  }

  async function run(processor: JobProcessor, envelope: unknown, transport: 'ws' | 'http' = 'ws'): Promise<Run> {
    lastFast = 'not-tried'
    await p.redis.del(pickupUserKey())
    const j = inboundJob(p, JSON.stringify(envelope), transport)
    let transientError: boolean | undefined
    try {
      await processor.processMessage(j, silentLogger)
    } catch (error) {
      transientError = isTransientError(error)
    }
    const replies = await Promise.all(p.relay.writesTo(j.socketId).map(unpackForWallet))
    const statuses = replies
      .filter((r) => r['@type'] === `${PICKUP}/status`)
      .map(({ '@id': _id, newest_received_time: _n, oldest_received_time: _o, ...rest }) => rest)
    const delivered = replies
      .filter((r) => r['@type'] === `${PICKUP}/delivery`)
      .flatMap((r) => (r['~attach'] ?? []) as unknown[]).length
    const entry = await directory.lookup(p.connectionId)
    return {
      fast: lastFast,
      transientError,
      statuses,
      delivered,
      session: entry && {
        socketIsThisJobs: entry.socketId === j.socketId && entry.relayId === j.relayId,
        transport: entry.transport,
        registeredBy: entry.registeredBy,
        keys: withoutCheckedDids(entry.keys),
      },
      checkedDids: (entry?.keys as { checkedDids?: unknown } | undefined)?.checkedDids,
      socketClosed: closedSockets.includes(j.socketId),
      // Sent on the same Redis connection before the answer, so it has landed by now (on both paths).
      pickupUserMarked: (await p.redis.exists(pickupUserKey())) === 1,
    }
  }

  async function expectSame(makeEnvelope: () => Promise<unknown>, setup: () => Promise<void>, transport: 'ws' | 'http' = 'ws'): Promise<Run> {
    await setup()
    const fast = await run(fastProcessor, await makeEnvelope(), transport)
    await setup()
    const credo = await run(credoProcessor, await makeEnvelope(), transport)
    expect({ ...fast, fast: undefined, checkedDids: undefined }).toEqual({ ...credo, fast: undefined })
    return fast
  }

  it('registers the socket as the live session and answers with the status Credo sends', async () => {
    const id = randomUUID()
    const result = await expectSame(() => credoLiveOn(id), () => reset(0))
    expect(result.fast).toBe('answered')
    expect(result.statuses).toEqual([
      { '@type': `${PICKUP}/status`, message_count: 0, live_delivery: true, '~thread': { thid: id }, '~transport': { return_route: 'all' } },
    ])
    expect(result.session).toEqual({
      socketIsThisJobs: true,
      transport: 'ws',
      registeredBy: 'worker-under-test',
      keys: { recipientKeys: [p.walletKey], senderKey: p.mediatorKey, senderKeyId: expect.any(String) },
    })
    expect(result.pickupUserMarked).toBe(true)
    const connection = await p.mediator.didcomm.connections.getById(p.connectionId)
    expect(result.checkedDids).toEqual([didDigest(connection.did ?? "?"), didDigest(connection.theirDid ?? "?")])
  })

  it('pushes what waited, and again what an earlier socket got without confirming it', async () => {
    const id = randomUUID()
    const result = await expectSame(() => credoLiveOn(id), () => reset(2, 2))
    expect(result.fast).toBe('answered')
    expect(result.delivered).toBe(4)
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 4 })
  })

  it('accepts the legacy message type prefix as Credo does', async () => {
    const plaintext = {
      '@type': 'did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/messagepickup/2.0/live-delivery-change',
      '@id': 'legacy-prefix-live-1',
      live_delivery: true,
      '~transport': { return_route: 'all' },
    }
    const result = await expectSame(() => walletPacked(p, plaintext), () => reset(0))
    expect(result.fast).toBe('answered')
    expect(result.session?.socketIsThisJobs).toBe(true)
  })

  it('leaves live mode off, live mode over HTTP, a ~thread and other return routes to Credo', async () => {
    const id = randomUUID()
    const base = { '@type': `${PICKUP}/live-delivery-change`, '@id': id, live_delivery: true, '~transport': { return_route: 'all' } }
    const variants: unknown[] = [
      { ...base, live_delivery: false },
      { ...base, live_delivery: 'yes' },
      { ...base, '~thread': { thid: id } },
      { ...base, '~transport': { return_route: 'thread' } },
      { ...base, extra: true },
    ]
    for (const variant of variants) {
      const result = await expectSame(() => walletPacked(p, variant), () => reset(1))
      expect(result.fast).toBe(false)
    }
    const overHttp = await expectSame(() => credoLiveOn(id), () => reset(1), 'http')
    expect(overHttp.fast).toBe(false)
    expect(overHttp.session).toBeUndefined()
  })

  it('ends the socket like Credo when the wallet left before the answer (410)', async () => {
    await withRelayStatus(p, 410, async () => {
      for (const processor of [fastProcessor, credoProcessor]) {
        await reset(0)
        const result = await run(processor, await credoLiveOn(randomUUID()))
        expect(result.transientError).toBeUndefined()
        expect(result.socketClosed).toBe(true)
        expect(result.fast).toBe(processor === fastProcessor ? true : 'not-tried')
      }
    })
  })
})

function withoutCheckedDids(keys: unknown): unknown {
  if (typeof keys !== 'object' || keys === null) return keys
  const { checkedDids: _checked, ...rest } = keys as Record<string, unknown>
  return rest
}
