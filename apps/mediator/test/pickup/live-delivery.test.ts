import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TypedArrayEncoder } from '@credo-ts/core'
import { RedisKeys } from '@mediator/contracts'
import { LiveSessionDirectory, RedisPickupQueue } from '@mediator/redis'
import { EnvelopePacker, FastDeliveryPacker } from '../../src/forward/index.js'
import { MediatorMetrics } from '../../src/metrics.js'
import { LiveDelivery } from '../../src/pickup/live-delivery.js'
import { LeaseSweeper } from '../../src/pickup/lease-sweeper.js'
import { silentLogger, startPairedAgents, type PairedAgents } from '../perf-paths/support.js'

describe('live delivery when the relay does not write', () => {
  let p: PairedAgents
  let delivery: LiveDelivery
  let directory: LiveSessionDirectory
  let sender: { senderKey: string; senderKeyId: string }

  beforeAll(async () => {
    p = await startPairedAgents('live_delivery')
    const key = await p.mediatorKms.createKey(p.mediator.context, { type: { kty: 'OKP', crv: 'Ed25519' } })
    sender = { senderKey: TypedArrayEncoder.toBase58(Buffer.from(key.publicJwk.x, 'base64url')), senderKeyId: key.keyId }
    directory = new LiveSessionDirectory({ redis: p.redis, prefix: new RedisKeys(p.redisPrefix) })
    delivery = new LiveDelivery({
      directory,
      queue: p.queue,
      relay: p.relayClient,
      metrics: new MediatorMetrics(),
      packer: new FastDeliveryPacker(new EnvelopePacker(p.mediatorKms)),
    })
  })
  afterAll(async () => {
    await p?.close()
  })

  async function liveOn(socketId: string) {
    await directory.register(p.connectionId, {
      relayId: p.relay.relayId,
      socketId,
      transport: 'ws',
      registeredAt: Date.now(),
      keys: { recipientKeys: [p.walletKey], ...sender },
    })
  }

  async function queueOne(text: string) {
    await p.queue.addMessage(p.mediator.context, {
      connectionId: p.connectionId,
      recipientDids: [],
      payload: { protected: text, iv: 'iv', ciphertext: 'c', tag: 't' },
    })
  }

  it('makes the messages available again at once when the relay says it did not write (503)', async () => {
    await liveOn('busy-socket')
    p.relay.statusFor.set('busy-socket', 503)
    await queueOne('busy')
    expect(await delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('failed')
    expect(p.relay.writesTo('busy-socket')).toHaveLength(1)
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 1, inFlight: 0 })
    await p.queue.deleteConnection(p.connectionId)
  })

  it('keeps the lease when the relay gave no answer, so a copy cannot cross the wallet\'s confirmation', async () => {
    await liveOn('unanswered-socket')
    p.relay.unansweredFor.add('unanswered-socket')
    await queueOne('unanswered')
    expect(await delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('failed')
    // The relay did write it: the wallet may well confirm it.
    expect(p.relay.writesTo('unanswered-socket')).toHaveLength(1)
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 1 })
    // The session stays: the socket may still be there.
    expect((await directory.lookup(p.connectionId))?.socketId).toBe('unanswered-socket')
    // The wallet's next socket gets it.
    expect(await delivery.releaseUnconfirmed(p.connectionId)).toBe(1)
  })

  it('releases what it took when the delivery cannot be packed, and sends nothing', async () => {
    await p.queue.deleteConnection(p.connectionId)
    await directory.register(p.connectionId, {
      relayId: p.relay.relayId,
      socketId: 'unpackable-socket',
      transport: 'ws',
      registeredAt: Date.now(),
      // Our key is gone from the KMS (deleted, or another deployment's id).
      keys: { recipientKeys: [p.walletKey], senderKey: sender.senderKey, senderKeyId: 'no-such-key' },
    })
    await queueOne('unpackable')
    await expect(delivery.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).rejects.toThrow()
    expect(p.relay.writesTo('unpackable-socket')).toEqual([])
    expect(await p.queue.getStats(p.connectionId)).toMatchObject({ pending: 1, inFlight: 0 })
  })

  it('sends messages whose lease ran out to the live wallet again, without waiting for its next message', async () => {
    // The same queue with a short lease.
    const queue = new RedisPickupQueue({ redis: p.redis, prefix: new RedisKeys(p.redisPrefix), leaseMs: 300 })
    const metrics = new MediatorMetrics()
    const shortLeases = new LiveDelivery({ directory, queue, relay: p.relayClient, metrics, packer: new FastDeliveryPacker(new EnvelopePacker(p.mediatorKms)) })
    const sweeper = new LeaseSweeper(queue, shortLeases, p.mediator.context, metrics, silentLogger)
    await p.queue.deleteConnection(p.connectionId)
    await liveOn('flaky-socket')
    p.relay.unansweredFor.add('flaky-socket')
    await queueOne('flaky')
    expect(await shortLeases.deliverQueued(p.mediator.context, p.connectionId, silentLogger)).toBe('failed')
    p.relay.unansweredFor.delete('flaky-socket')
    expect(await sweeper.sweep()).toBe(0)

    // Waits for the lease without asserting how long it took.
    let written = 0
    for (let i = 0; i < 100 && written === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      written = (await sweeper.sweep()) ?? 0
    }
    expect(written).toBe(1)
    expect(p.relay.writesTo('flaky-socket')).toHaveLength(2)
    expect(await queue.getStats(p.connectionId)).toMatchObject({ pending: 0, inFlight: 1 })
    expect(await metrics.registry.getSingleMetricAsString('mediator_pickup_leases_run_out_total')).toMatch(/ 1$/m)
  })
})
