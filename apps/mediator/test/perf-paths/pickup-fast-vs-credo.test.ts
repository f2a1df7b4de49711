import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { TypedArrayEncoder } from '@credo-ts/core'
import {
  DidCommConnectionRepository,
  DidCommDidExchangeState,
  DidCommEnvelopeService,
  DidCommMessagesReceivedV2Message,
  type DidCommEncryptedMessage,
} from '@credo-ts/didcomm'
import { BackgroundWrites } from '../../src/pickup/background-writes.js'
import { JobProcessor, type InboundShortcut, type ShortcutResult } from '../../src/inbound/job-processor.js'
import { isTransientError } from '../../src/inbound/error-classification.js'
import type { ForwardInvalidation } from '../../src/forward/index.js'
import {
  deliverThree as deliverThreeTo,
  inboundJob,
  pickupFastPathOf,
  silentLogger,
  startInvalidation,
  startPairedAgents,
  walletPacked,
  withRelayStatus,
  type PairedAgents,
} from './support.js'

const PICKUP = 'https://didcomm.org/messagepickup/2.0'

interface Run {
  fast: ShortcutResult | 'not-tried'
  transientError?: boolean
  replies: unknown[]
  queued: number
  socketClosed: boolean
  noReplySent: boolean
}

describe('messages-received fast path against the Credo path', () => {
  let p: PairedAgents
  let invalidation: ForwardInvalidation
  let fastProcessor: JobProcessor
  let credoProcessor: JobProcessor
  let lastFast: ShortcutResult | 'not-tried' = 'not-tried'
  const closedSockets: string[] = []

  beforeAll(async () => {
    p = await startPairedAgents('pickup_equiv')
    const socketCloseHandler = { socketClosed: async (_relayId: string, socketId: string) => void closedSockets.push(socketId) }
    const fastPath = pickupFastPathOf(p, {
      socketCloseHandler,
    })
    invalidation = await startInvalidation(p, fastPath.caches)
    const recording: InboundShortcut = {
      tryHandle: async (...args) => (lastFast = await fastPath.shortcut.tryHandle(...args)),
    }
    const common = { agentContext: p.mediator.context, relay: p.relayClient, socketCloseHandler }
    fastProcessor = new JobProcessor({ ...common, backgroundWrites: new BackgroundWrites(), shortcut: recording })
    credoProcessor = new JobProcessor({ ...common, backgroundWrites: new BackgroundWrites() })
  }, 60_000)
  afterAll(async () => {
    await invalidation?.close()
    await p?.close()
  })

  const job = (payload: string, transport: 'ws' | 'http' = 'ws', replyExpected = transport === 'http') => inboundJob(p, payload, transport, replyExpected)

  const deliverThree = () => deliverThreeTo(p)

  /** What a Credo wallet sends (its own class and envelope service). */
  async function credoPacked(messageIds: string[], id: string): Promise<DidCommEncryptedMessage> {
    const message = new DidCommMessagesReceivedV2Message({ messageIdList: messageIds, id })
    return p.wallet.context
      .resolve(DidCommEnvelopeService)
      .packMessage(p.wallet.context, message, { recipientKeys: [p.mediatorJwk], routingKeys: [], senderKey: p.walletJwk })
  }

  async function unpackForWallet(body: string) {
    const { plaintextMessage, senderKey } = await p.wallet.context
      .resolve(DidCommEnvelopeService)
      .unpackMessage(p.wallet.context, JSON.parse(body) as DidCommEncryptedMessage)
    const { '@id': _id, newest_received_time: newest, oldest_received_time: oldest, ...rest } = plaintextMessage as Record<string, unknown>
    return { ...rest, from: senderKey ? TypedArrayEncoder.toBase58(senderKey.publicKey.publicKey) : undefined, times: [typeof newest, typeof oldest] }
  }

  async function run(
    processor: JobProcessor,
    makeEnvelope: (ids: string[]) => Promise<unknown>,
    transport: 'ws' | 'http' = 'ws',
    replyExpected?: boolean,
  ): Promise<Run> {
    lastFast = 'not-tried'
    const ids = await deliverThree()
    const j = job(JSON.stringify(await makeEnvelope(ids)), transport, replyExpected)
    let transientError: boolean | undefined
    try {
      await processor.processMessage(j, silentLogger)
    } catch (error) {
      transientError = isTransientError(error)
    }
    return {
      fast: lastFast,
      transientError,
      replies: await Promise.all(p.relay.writesTo(j.socketId).map(unpackForWallet)),
      queued: await p.queue.getQueuedCount(p.connectionId),
      socketClosed: closedSockets.includes(j.socketId),
      noReplySent: p.relay.disconnects.includes(j.socketId),
    }
  }

  /** Runs the same message through the worker with the fast path and through Credo alone; both must agree. */
  async function expectSame(
    makeEnvelope: (ids: string[]) => Promise<unknown>,
    transport: 'ws' | 'http' = 'ws',
    replyExpected?: boolean,
  ): Promise<Run> {
    const fast = await run(fastProcessor, makeEnvelope, transport, replyExpected)
    const credo = await run(credoProcessor, makeEnvelope, transport, replyExpected)
    expect({ ...fast, fast: undefined }).toEqual({ ...credo, fast: undefined })
    return fast
  }

  it('removes the confirmed messages and answers with the status Credo sends, on the same socket', async () => {
    const id = randomUUID()
    const result = await expectSame((ids) => credoPacked(ids.slice(0, 2), id))
    expect(result.fast).toBe('answered')
    expect(result.queued).toBe(1)
    expect(result.replies).toEqual([
      {
        '@type': `${PICKUP}/status`,
        message_count: 0,
        '~thread': { thid: id },
        '~transport': { return_route: 'all' },
        from: p.mediatorKey,
        times: ['string', 'string'],
      },
    ])
  })

  it('answers an empty confirmation with the count, removing nothing', async () => {
    const id = randomUUID()
    const result = await expectSame(() => credoPacked([], id))
    expect(result.fast).toBe('answered')
    expect(result.queued).toBe(3)
  })

  it('answers a held HTTP request with the status and nothing else', async () => {
    const id = randomUUID()
    const result = await expectSame((ids) => credoPacked(ids, id), 'http', true)
    expect(result.fast).toBe('answered')
    expect(result.noReplySent).toBe(false)
    expect(result.queued).toBe(0)
  })

  it('leaves an HTTP request that is no longer held to Credo', async () => {
    const id = randomUUID()
    const result = await expectSame((ids) => credoPacked(ids, id), 'http', false)
    expect(result.fast).toBe(false)
  })

  it('leaves confirmations with a ~thread, odd ids or another return route to Credo', async () => {
    const ackId = randomUUID()
    const base = (ids: string[]) => ({ '@type': `${PICKUP}/messages-received`, '@id': ackId, message_id_list: ids })
    const variants: Array<(ids: string[]) => unknown> = [
      (ids) => ({ ...base(ids), '~transport': { return_route: 'all' }, '~thread': { thid: ackId } }),
      (ids) => ({ ...base(ids), '~transport': { return_route: 'thread' } }),
      (ids) => ({ ...base(ids), '~transport': { return_route: 'all' }, message_id_list: [1, ...ids] }),
      (ids) => ({ ...base(ids), '~transport': { return_route: 'all' }, '@id': 'short' }),
      (ids) => ({ ...base(ids), '~transport': { return_route: 'all' }, '@type': `${PICKUP}/status-request` }),
      (ids) => ({ ...base(ids), '~transport': { return_route: 'all' }, extra: true }),
    ]
    for (const variant of variants) {
      const result = await expectSame((ids) => walletPacked(p, variant(ids)))
      expect(result.fast).toBe(false)
    }
  })

  it('accepts the legacy message type prefix as Credo does', async () => {
    const plaintext = (ids: string[]) => ({
      '@type': 'did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/messagepickup/2.0/messages-received',
      '@id': 'legacy-prefix-ack-1',
      message_id_list: ids,
      '~transport': { return_route: 'all' },
    })
    const result = await expectSame((ids) => walletPacked(p, plaintext(ids)))
    expect(result.fast).toBe('answered')
  })

  it('leaves a tampered envelope to Credo, which rejects it', async () => {
    const id = randomUUID()
    const tampered = async (ids: string[]) => ({ ...(await credoPacked(ids, id)), ciphertext: 'AAAA' })
    const result = await expectSame(tampered)
    expect(result.fast).toBe(false)
    expect(result.transientError).toBe(false)
    expect(result.queued).toBe(3)
  })

  it('removes the messages and drops the answer like Credo when the wallet left (410), ending its socket', async () => {
    for (const transport of ['ws', 'http'] as const) {
      const id = randomUUID()
      const result = await withRelayStatus(p, 410, () => expectSame((ids) => credoPacked(ids, id), transport))
      expect(result.fast).toBe(true)
      expect(result.transientError).toBeUndefined()
      expect(result.socketClosed).toBe(true)
      expect(result.queued).toBe(0)
    }
  })

  it('removes the messages and ends as a dead letter like Credo when the relay cannot write now (503)', async () => {
    for (const transport of ['ws', 'http'] as const) {
      const id = randomUUID()
      const result = await withRelayStatus(p, 503, () => expectSame((ids) => credoPacked(ids, id), transport))
      // The fast path accepted it, then threw as Credo's path does.
      expect(result.fast).toBe('not-tried')
      expect(result.transientError).toBe(false)
      expect(result.socketClosed).toBe(false)
      expect(result.queued).toBe(0)
    }
  })

  it('stops taking a connection that is no longer ready as soon as its record changes', async () => {
    const id = randomUUID()
    const first = await expectSame((ids) => credoPacked(ids, id))
    expect(first.fast).toBe('answered')
    const repository = p.mediator.context.resolve(DidCommConnectionRepository)
    const connection = await repository.getById(p.mediator.context, p.connectionId)
    connection.state = DidCommDidExchangeState.Abandoned
    await repository.update(p.mediator.context, connection)
    try {
      const result = await expectSame((ids) => credoPacked(ids, id))
      expect(result.fast).toBe(false)
      expect(result.transientError).toBe(false)
      expect(result.queued).toBe(3)
    } finally {
      connection.state = DidCommDidExchangeState.Completed
      await repository.update(p.mediator.context, connection)
    }
  })
})
