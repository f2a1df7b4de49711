import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { RedisKeys } from '@mediator/contracts'
import { createTestRedisPrefix } from '@mediator/test-support'
import type { TestRedisPrefix } from '@mediator/test-support'
import { RELAY_HEARTBEAT_TTL_FACTOR, RelayRegistry } from '../src/index.js'

describe('RelayRegistry', () => {
  let t: TestRedisPrefix
  let redis: Redis
  let keys: RedisKeys
  let registry: RelayRegistry

  beforeAll(async () => {
    t = await createTestRedisPrefix('relay-registry')
    redis = new Redis(t.redisUrl)
    keys = new RedisKeys(t.prefix)
    registry = new RelayRegistry(redis, keys)
  })

  afterAll(async () => {
    redis.disconnect()
    await t.cleanup()
  })

  const announcement = (relayId: string, heartbeatIntervalMs = 10_000) => ({
    relayId,
    internalUrl: `http://${relayId}.internal:4000`,
    startedAt: 1_700_000_000_000,
    heartbeatIntervalMs,
  })

  it('announces a relay that workers can find and see alive', async () => {
    await registry.announce(announcement('r1'))
    expect(await registry.get('r1')).toEqual(announcement('r1'))
    expect(await registry.isAlive('r1')).toBe(true)
    expect((await registry.listAlive()).map((a) => a.relayId)).toContain('r1')
  })

  it('gives the heartbeat key a TTL of a few intervals', async () => {
    await registry.announce(announcement('r2', 10_000))
    const ttl = await redis.pttl(keys.relayHeartbeat('r2'))
    expect(ttl).toBeGreaterThan(10_000)
    expect(ttl).toBeLessThanOrEqual(10_000 * RELAY_HEARTBEAT_TTL_FACTOR)
  })

  it('tells a dead relay (heartbeat expired) from a live one, and prunes it', async () => {
    await registry.announce(announcement('r3'))
    // Stands in for the TTL running out: the relay died without withdrawing.
    await redis.del(keys.relayHeartbeat('r3'))
    expect(await registry.isAlive('r3')).toBe(false)
    expect(await registry.get('r3')).not.toBeNull()
    expect((await registry.listAlive()).map((a) => a.relayId)).not.toContain('r3')
    expect(await registry.pruneDead()).toContain('r3')
    expect(await registry.get('r3')).toBeNull()
  })

  it('re-announces on heartbeat after the entry was pruned or lost, and says the registration lapsed', async () => {
    await registry.announce(announcement('r4'))
    await redis.hdel(keys.relays, 'r4')
    expect(await registry.heartbeat(announcement('r4'))).toEqual({ lapsed: true })
    expect(await registry.get('r4')).toEqual(announcement('r4'))
    expect(await registry.heartbeat(announcement('r4'))).toEqual({ lapsed: false })
  })

  it('does not call a beat that is only late a lapse: nobody pruned the relay', async () => {
    await registry.announce(announcement('r7'))
    await redis.del(keys.relayHeartbeat('r7'))
    expect(await registry.heartbeat(announcement('r7'))).toEqual({ lapsed: false })
    expect(await registry.isAlive('r7')).toBe(true)
  })

  it('prunes a relay whose heartbeat expired only when the probe does not find it', async () => {
    for (const id of ['late', 'gone', 'probe-fails']) {
      await registry.announce(announcement(id))
      await redis.del(keys.relayHeartbeat(id))
    }
    const asked: string[] = []
    const probe = async (a: { relayId: string }) => {
      asked.push(a.relayId)
      if (a.relayId === 'probe-fails') throw new Error('connect ECONNREFUSED')
      return a.relayId === 'late'
    }
    const pruned = await registry.pruneDead(probe)
    expect(pruned.sort()).toEqual(['gone', 'probe-fails'])
    // Relays with a fresh heartbeat are not probed.
    expect(asked).not.toContain('r1')
    expect(await registry.get('late')).not.toBeNull()
    expect(await registry.get('gone')).toBeNull()
  })

  it('forgets a withdrawn relay at once', async () => {
    await registry.announce(announcement('r5'))
    await registry.withdraw('r5')
    expect(await registry.isAlive('r5')).toBe(false)
    expect(await registry.get('r5')).toBeNull()
  })

  it('refuses an invalid announcement', async () => {
    await expect(registry.announce({ ...announcement('r6'), internalUrl: 'not a url' })).rejects.toThrow()
    expect(await registry.get('r6')).toBeNull()
  })
})
