import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import type { AgentContext } from '@credo-ts/core'
import { RedisKeys } from '@mediator/contracts'
import { createTestRedisPrefix, type TestRedisPrefix } from '@mediator/test-support'
import { PickupQueueInspector, RedisPickupQueue, WorkerRegistry, readEnvelopeHeader } from '../src/index.js'

const ctx = {} as AgentContext
const envelope = { protected: 'eyJ9', iv: 'AA', ciphertext: 'AA', tag: 'AA' }

describe('what operators read', () => {
  let t: TestRedisPrefix
  let redis: Redis
  let keys: RedisKeys

  beforeEach(async () => {
    t = await createTestRedisPrefix('operator_reads')
    redis = new Redis(t.redisUrl)
    keys = new RedisKeys(t.prefix)
  })
  afterEach(async () => {
    redis.disconnect()
    await t.cleanup()
  })

  it('worker registry: alive while beating, dead with its last beat once the key is gone, pruned after the window', async () => {
    const registry = new WorkerRegistry(redis, keys)
    const a = { startedAt: Date.now(), heartbeatIntervalMs: 60_000, concurrency: 8 }
    await registry.heartbeat({ workerId: 'w-1', ...a })
    await registry.heartbeat({ workerId: 'w-2', ...a })
    expect((await registry.listAll()).map((m) => [m.announcement.workerId, m.alive])).toEqual([
      ['w-1', true],
      ['w-2', true],
    ])
    await redis.del(keys.workerHeartbeat('w-2')) // killed: no withdraw, the key expires
    const [, dead] = await registry.listAll()
    expect(dead?.alive).toBe(false)
    expect(dead?.lastBeatAt).toBeGreaterThan(0)
    expect(await registry.pruneDead(3_600_000)).toEqual([])
    expect(await registry.pruneDead(0)).toEqual(['w-2'])
    await registry.withdraw('w-1')
    expect(await registry.listAll()).toEqual([])
    expect(await t.listKeys()).toEqual([])
  })

  it('pickup queue inspector: reads counts and ages without expiring or releasing anything', async () => {
    const longAgo = Date.now() - 10 * 86_400_000
    // Workers keep messages 30 days; these are 10 days old, past the queue's 7-day default.
    const workers = new RedisPickupQueue({ redis, prefix: keys, clock: () => longAgo, maxAgeMs: 30 * 86_400_000, leaseMs: 60_000 })
    for (let i = 0; i < 3; i++) await workers.addMessage(ctx, { connectionId: 'c-1', recipientDids: ['did:key:z6MkA'], payload: envelope })
    await workers.takeFromQueue(ctx, { connectionId: 'c-1', limit: 1 }) // leased until longAgo + 60 s: run out
    const before = await t.listKeys()

    const inspector = new PickupQueueInspector(redis, keys)
    const snapshot = await inspector.connection('c-1')
    expect(snapshot).toMatchObject({ connectionId: 'c-1', pending: 2, leased: 1, leaseRunOut: 1, oldestQueuedAt: longAgo, recipientDids: ['did:key:z6MkA'] })
    expect(snapshot.bytes).toBeGreaterThan(0)
    expect(await inspector.pendingForRecipient('c-1', 'did:key:z6MkA')).toBe(2)
    expect(await inspector.overview()).toMatchObject({ connectionsWithMessages: 1, oldestQueuedAt: longAgo, connectionsWithRunOutLeases: 1, expiredTotal: 0 })
    expect(await inspector.connection('nobody')).toMatchObject({ pending: 0, leased: 0, bytes: 0, recipientDids: [] })
    // Nothing changed: same keys, the lease still run out, nothing expired.
    expect(await t.listKeys()).toEqual(before)
    expect((await inspector.connection('c-1')).leaseRunOut).toBe(1)
  })

  it('envelope header: the alg and the recipient kids of a stored envelope, nothing for what is not one', () => {
    const header = { alg: 'Authcrypt', recipients: [{ header: { kid: 'K1' } }, { header: { kid: 'K2' } }] }
    const payload = JSON.stringify({ ...envelope, protected: Buffer.from(JSON.stringify(header)).toString('base64url') })
    expect(readEnvelopeHeader(payload)).toEqual({ alg: 'Authcrypt', recipientKids: ['K1', 'K2'] })
    expect(readEnvelopeHeader('not json')).toBeUndefined()
    expect(readEnvelopeHeader(JSON.stringify({ protected: 'bm90IGpzb24' }))).toBeUndefined()
  })
})
