import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TypedArrayEncoder } from '@credo-ts/core'
import { RedisKeys } from '@mediator/contracts'
import { LiveSessionDirectory } from '@mediator/redis'
import { MediatorMetrics } from '../../src/metrics.js'
import { LiveDelivery } from '../../src/pickup/live-delivery.js'
import { silentLogger, startPairedAgents, type PairedAgents } from '../perf-paths/support.js'

/** Delivery to an implicit-pickup session: bare envelopes, in order, removed once the relay wrote them. */
describe('implicit delivery', () => {
  let p: PairedAgents
  let delivery: LiveDelivery
  let directory: LiveSessionDirectory
  let sender: { senderKey: string; senderKeyId: string }

  beforeAll(async () => {
    p = await startPairedAgents('implicit_delivery')
    const key = await p.mediatorKms.createKey(p.mediator.context, { type: { kty: 'OKP', crv: 'Ed25519' } })
    sender = { senderKey: TypedArrayEncoder.toBase58(Buffer.from(key.publicJwk.x, 'base64url')), senderKeyId: key.keyId }
    directory = new LiveSessionDirectory({ redis: p.redis, prefix: new RedisKeys(p.redisPrefix) })
    delivery = new LiveDelivery({ directory, queue: p.queue, relay: p.relayClient, metrics: new MediatorMetrics() })
  })
  afterEach(async () => {
    await p.queue.deleteConnection(p.connectionId)
  })
  afterAll(async () => {
    await p?.close()
  })

  async function implicitOn(socketId: string) {
    await directory.register(p.connectionId, {
      relayId: p.relay.relayId,
      socketId,
      transport: 'ws',
      registeredAt: Date.now(),
      keys: { recipientKeys: [p.walletKey], ...sender, delivery: 'implicit' },
    })
  }

  async function queue(...texts: string[]) {
    for (const text of texts) {
      await p.queue.addMessage(p.mediator.context, {
        connectionId: p.connectionId,
        recipientDids: [],
        payload: { protected: text, iv: 'iv', ciphertext: 'c', tag: 't' },
      })
    }
  }

  const written = (socketId: string) => p.relay.writesTo(socketId).map((body) => (JSON.parse(body) as { protected: string }).protected)

  it('writes each envelope as it is, in order, and removes what was written', async () => {
    await implicitOn('implicit-ok')
    await queue('one', 'two', 'three')
    expect(await delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('written')
    expect(written('implicit-ok')).toEqual(['one', 'two', 'three'])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 0 })
  })

  it('stops at a refused write and makes everything not written available again at once', async () => {
    await implicitOn('implicit-busy')
    p.relay.statusFor.set('implicit-busy', 503)
    await queue('a', 'b')
    expect(await delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('failed')
    expect(written('implicit-busy')).toEqual(['a'])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 2, inFlight: 0 })
  })

  it('ends the session on a socket that is gone and keeps the messages for the next one', async () => {
    await implicitOn('implicit-gone')
    p.relay.statusFor.set('implicit-gone', 410)
    await queue('x', 'y')
    expect(await delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('gone')
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 2, inFlight: 0 })
    expect(await directory.lookup(p.connectionId)).toBeUndefined()
  })

  it('keeps the lease of a write the relay did not answer, and releases the rest', async () => {
    await implicitOn('implicit-unanswered')
    p.relay.unansweredFor.add('implicit-unanswered')
    await queue('maybe', 'not yet')
    expect(await delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('failed')
    expect(written('implicit-unanswered')).toEqual(['maybe'])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 1, inFlight: 1 })
  })

  it('sends pickup v2 deliveries to a session without the implicit mark', async () => {
    await directory.register(p.connectionId, {
      relayId: p.relay.relayId,
      socketId: 'v2-socket',
      transport: 'ws',
      registeredAt: Date.now(),
      keys: { recipientKeys: [p.walletKey], ...sender },
    })
    await queue('for v2')
    expect(await delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('written')
    const [frame] = p.relay.writesTo('v2-socket')
    // An envelope packed for the wallet, not the queued one; the message stays leased until confirmed.
    expect(JSON.parse(frame ?? '{}')).not.toMatchObject({ protected: 'for v2' })
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 1 })
  })
})
