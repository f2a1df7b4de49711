import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import { RedisKeys } from '@mediator/contracts'
import { RelayRegistry } from '@mediator/redis'
import { createTestRedisPrefix, freePort, testRedisUrl, type TestRedisPrefix } from '@mediator/test-support'
import { RelayClient } from '../../src/relay/relay-client.js'
import { RecordingRelay } from '../support/recording-relay.js'

describe('RelayClient', () => {
  let prefix: TestRedisPrefix
  let redis: Redis
  let keys: RedisKeys
  let registry: RelayRegistry
  let client: RelayClient
  const closers: Array<() => unknown> = []

  beforeEach(async () => {
    prefix = await createTestRedisPrefix('relay_client')
    redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 })
    keys = new RedisKeys(prefix.prefix)
    registry = new RelayRegistry(redis, keys)
    client = new RelayClient({ registry, secret: 'unused-by-the-recording-relay', timeoutMs: 500 })
  })
  afterEach(async () => {
    client.close()
    for (const close of closers.splice(0).reverse()) await close()
    redis.disconnect()
    await prefix.cleanup()
  })

  it('tells written, gone and failed apart by the relay status', async () => {
    const relay = await RecordingRelay.start(redis, keys)
    closers.push(() => relay.close())
    relay.statusFor.set('closed', 410)
    relay.statusFor.set('unknown', 404)
    relay.statusFor.set('busy', 503)
    expect(await client.send(relay.relayId, 'open', 'hello')).toEqual({ outcome: 'written' })
    expect(await client.send(relay.relayId, 'closed', 'x')).toEqual({ outcome: 'gone', reason: 'socket-closed' })
    expect(await client.send(relay.relayId, 'unknown', 'x')).toEqual({ outcome: 'gone', reason: 'socket-unknown' })
    expect(await client.send(relay.relayId, 'busy', 'x')).toMatchObject({ outcome: 'failed', status: 503 })
    expect(await client.disconnect(relay.relayId, 'open')).toEqual({ outcome: 'written' })
    expect(relay.writesTo('open')).toEqual(['hello'])
    expect(relay.disconnects).toEqual(['open'])
  })

  it('refuses a body over the relay\'s announced limit without sending it', async () => {
    const relay = await RecordingRelay.start(redis, keys)
    closers.push(() => relay.close())
    const announced = await registry.get(relay.relayId)
    await registry.announce({ ...announced!, maxSendBytes: 8 })
    expect(await client.send(relay.relayId, 's', '12345678')).toEqual({ outcome: 'written' })
    expect(await client.send(relay.relayId, 's', '123456789')).toMatchObject({ outcome: 'failed', status: 413 })
    // Counted in UTF-8 bytes, not characters: five characters, ten bytes.
    expect(await client.send(relay.relayId, 's', 'ééééé')).toMatchObject({ outcome: 'failed', status: 413 })
    expect(relay.writesTo('s')).toEqual(['12345678'])
  })

  it('calls a socket gone when its relay was never announced or is dead', async () => {
    expect(await client.send('never-announced', 's', 'x')).toEqual({ outcome: 'gone', reason: 'relay-unknown' })
    // Announced once, nothing listens any more and its heartbeat has run out.
    const port = await freePort()
    await registry.announce({ relayId: 'dead', internalUrl: `http://127.0.0.1:${port}`, startedAt: Date.now(), heartbeatIntervalMs: 60_000 })
    await redis.del(keys.relayHeartbeat('dead'))
    expect(await client.send('dead', 's', 'x')).toEqual({ outcome: 'gone', reason: 'relay-dead' })
  })

  it('calls a write failed, not gone, when a live relay does not answer, and reconnects once it does', async () => {
    // Alive by its heartbeat, but its port reads and never answers.
    const silent = createServer((socket) => socket.resume())
    const port = await freePort()
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve))
    closers.push(() => new Promise((resolve) => silent.close(resolve)))
    await registry.announce({ relayId: 'stuck', internalUrl: `http://127.0.0.1:${port}`, startedAt: Date.now(), heartbeatIntervalMs: 60_000 })
    const stuck = await client.send('stuck', 's', 'x')
    expect(stuck).toMatchObject({ outcome: 'failed' })

    // The same relay id comes back at another address: the client reads the announcement again.
    const relay = await RecordingRelay.start(redis, keys)
    closers.push(() => relay.close())
    const moved = await registry.get(relay.relayId)
    await registry.announce({ ...moved!, relayId: 'stuck' })
    expect(await client.send('stuck', 's', 'now')).toEqual({ outcome: 'written' })
    expect(relay.writesTo('s')).toEqual(['now'])
  })
})
