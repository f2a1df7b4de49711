import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createTestRedisPrefix } from '@mediator/test-support'
import type { TestRedisPrefix } from '@mediator/test-support'
import { LiveSessionDirectory } from '../src/index.js'
import type { LiveSessionDirectoryOptions, LiveSessionEntry } from '../src/index.js'

describe('LiveSessionDirectory', () => {
  let t: TestRedisPrefix
  let redis: Redis
  let directory: LiveSessionDirectory

  const create = (options: Partial<LiveSessionDirectoryOptions> = {}): LiveSessionDirectory =>
    new LiveSessionDirectory({ redis, prefix: t.prefix, ...options })

  const entry = (relayId: string, socketId: string, registeredAt: number, extra: Partial<LiveSessionEntry> = {}) => ({
    relayId,
    socketId,
    transport: 'ws' as const,
    registeredAt,
    ...extra,
  })

  /** Everything but the tombstones of removed sockets, which expire by themselves. */
  const liveKeys = async () => (await t.listKeys()).filter((k) => !k.endsWith(':closed'))

  beforeEach(async () => {
    t = await createTestRedisPrefix('session-directory')
    redis = new Redis(t.redisUrl)
    directory = create()
  })

  afterEach(async () => {
    redis.disconnect()
    await t.cleanup()
  })

  it('registers and looks up a live session', async () => {
    const e = entry('relay-1', 'sock-1', 1_000, { sessionId: 'credo-session', registeredBy: 'worker-7' })
    expect(await directory.register('c1', e)).toBe('registered')
    expect(await directory.lookup('c1')).toEqual(e)
    expect(await directory.lookup('nobody')).toBeUndefined()
    expect(await directory.register('c1', e)).toBe('refreshed')
  })

  it('stores opaque packing keys with the entry and replaces them with it', async () => {
    const keys = { recipientKeys: ['8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K'], senderKey: 'abc', senderKeyId: 'k1' }
    await directory.register('c1', entry('relay-1', 's1', 1, { keys }))
    expect((await directory.lookup('c1'))?.keys).toEqual(keys)
    await directory.register('c1', entry('relay-1', 's2', 2))
    expect(await directory.lookup('c1')).toEqual(entry('relay-1', 's2', 2))
    await expect(directory.register('c2', entry('relay-1', 's1', 3, { keys: 'x'.repeat(5000) }))).rejects.toThrow()
  })

  it('keeps the newest registration whatever order they arrive in', async () => {
    const older = entry('relay-1', 'sock-old', 1_000)
    const newer = entry('relay-2', 'sock-new', 2_000)
    expect(await directory.register('c1', newer)).toBe('registered')
    expect(await directory.register('c1', older)).toBe('stale')
    expect(await directory.lookup('c1')).toEqual(newer)

    // In the natural order the newer one replaces the older one and takes over its index entries.
    expect(await directory.register('c2', older)).toBe('registered')
    expect(await directory.register('c2', newer)).toBe('replaced')
    expect(await directory.lookup('c2')).toEqual(newer)
    // The old socket no longer holds c2, so closing it removes nothing.
    expect(await directory.removeSocket('relay-1', 'sock-old')).toEqual([])
    expect(await directory.lookup('c2')).toEqual(newer)
  })

  it('breaks a registeredAt tie by socketId, the same way on every worker', async () => {
    const a = entry('relay-1', 'sock-a', 5_000)
    const b = entry('relay-1', 'sock-b', 5_000)
    expect(await directory.register('c1', a)).toBe('registered')
    expect(await directory.register('c1', b)).toBe('replaced')
    expect(await directory.register('c2', b)).toBe('registered')
    expect(await directory.register('c2', a)).toBe('stale')
    expect((await directory.lookup('c1'))?.socketId).toBe('sock-b')
    expect((await directory.lookup('c2'))?.socketId).toBe('sock-b')
  })

  it('settles concurrent registrations from many clients on the newest', async () => {
    const clients = Array.from({ length: 5 }, () => new Redis(t.redisUrl))
    try {
      const directories = clients.map((r) => new LiveSessionDirectory({ redis: r, prefix: t.prefix }))
      const registrations = Array.from({ length: 40 }, (_, i) => entry(`relay-${i % 3}`, `sock-${i}`, 10_000 + i))
      // Shuffled deterministically so arrival order differs from age order.
      const shuffled = registrations.map((r, i) => ({ r, k: (i * 17) % 40 })).sort((x, y) => x.k - y.k)
      await Promise.all(shuffled.map(({ r }, i) => directories[i % directories.length]!.register('c1', r)))
      expect(await directory.lookup('c1')).toEqual(registrations[39])
      // Every older socket was dropped from the indexes: only one socket index remains.
      expect((await liveKeys()).filter((k) => k.includes(':sd:sock:'))).toHaveLength(1)
    } finally {
      for (const r of clients) r.disconnect()
    }
  })

  it('looks up many connections in one call', async () => {
    await directory.register('c1', entry('relay-1', 's1', 1))
    await directory.register('c3', entry('relay-2', 's3', 3))
    const found = await directory.lookupMany(['c1', 'c2', 'c3'])
    expect([...found.keys()].sort()).toEqual(['c1', 'c3'])
    expect(found.get('c3')).toEqual(entry('relay-2', 's3', 3))
    expect((await directory.lookupMany([])).size).toBe(0)
  })

  it('lists the sessions still registered on a socket, and only those', async () => {
    const keys = { recipientKeys: ['8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K'], senderKey: 'abc', senderKeyId: 'k1' }
    await directory.register('c1', entry('relay-1', 's1', 1, { keys }))
    await directory.register('c2', entry('relay-1', 's1', 2))
    await directory.register('c3', entry('relay-1', 's2', 3))
    // The same socket id on another relay is another socket.
    await directory.register('c4', entry('relay-2', 's1', 4))
    expect(await directory.sessionsOnSocket('relay-1', 's1')).toEqual(
      new Map([
        ['c1', entry('relay-1', 's1', 1, { keys })],
        ['c2', entry('relay-1', 's1', 2)],
      ]),
    )
    // c2 moved to a newer socket: it is no longer s1's.
    await directory.register('c2', entry('relay-1', 's3', 5))
    expect([...(await directory.sessionsOnSocket('relay-1', 's1')).keys()]).toEqual(['c1'])
    await directory.removeSocket('relay-1', 's1')
    expect((await directory.sessionsOnSocket('relay-1', 's1')).size).toBe(0)
    expect((await directory.sessionsOnSocket('relay-9', 'nothing')).size).toBe(0)
  })

  it('records a check of a session while it is on that socket, keeping the latest, until it registers again', async () => {
    await directory.register('c1', entry('relay-1', 's1', 1))
    expect(await directory.vouch('c1', 'relay-1', 's1', 50)).toBe(true)
    expect((await directory.sessionsOnSocket('relay-1', 's1')).get('c1')).toEqual({ ...entry('relay-1', 's1', 1), checkedAt: 50 })
    // An earlier check arriving late does not undo a later one.
    expect(await directory.vouch('c1', 'relay-1', 's1', 40)).toBe(true)
    expect((await directory.lookup('c1'))?.checkedAt).toBe(50)
    // Another socket, or the same socket id on another relay, cannot vouch for it.
    expect(await directory.vouch('c1', 'relay-1', 's2', 60)).toBe(false)
    expect(await directory.vouch('c1', 'relay-2', 's1', 60)).toBe(false)
    expect(await directory.vouch('nobody', 'relay-1', 's1', 60)).toBe(false)
    expect((await directory.lookup('c1'))?.checkedAt).toBe(50)
    // A new registration (even on the same socket) was not checked yet.
    await directory.register('c1', entry('relay-1', 's1', 2))
    expect((await directory.lookup('c1'))?.checkedAt).toBeUndefined()
    await directory.removeSocket('relay-1', 's1')
    expect(await directory.vouch('c1', 'relay-1', 's1', 70)).toBe(false)
    expect(await directory.lookup('c1')).toBeUndefined()
    await expect(directory.vouch('c1', 'relay-1', 's1', -1)).rejects.toThrow()
  })

  it('removeSocket drops exactly the entries still on that socket', async () => {
    // One socket can carry several connections (a wallet with several mediations).
    await directory.register('c1', entry('relay-1', 's1', 1))
    await directory.register('c2', entry('relay-1', 's1', 1))
    await directory.register('c3', entry('relay-1', 's2', 1))
    await directory.register('c4', entry('relay-2', 's1', 1)) // same socket id, other relay

    expect((await directory.removeSocket('relay-1', 's1')).sort()).toEqual(['c1', 'c2'])
    expect(await directory.lookup('c1')).toBeUndefined()
    expect(await directory.lookup('c2')).toBeUndefined()
    expect(await directory.lookup('c3')).toBeDefined()
    expect(await directory.lookup('c4')).toBeDefined()
    expect(await directory.removeSocket('relay-1', 's1')).toEqual([])
  })

  it('refuses a registration that arrives after its socket was removed', async () => {
    await directory.removeSocket('relay-1', 's1')
    expect(await directory.register('c1', entry('relay-1', 's1', 1))).toBe('socket-closed')
    expect(await directory.lookup('c1')).toBeUndefined()
    // Without tombstones the late registration would be accepted.
    const noTombstones = create({ closedSocketTtlMs: 0 })
    await noTombstones.removeSocket('relay-1', 's2')
    expect(await noTombstones.register('c2', entry('relay-1', 's2', 1))).toBe('registered')
  })

  it('unregister removes the entry only while it points at that socket', async () => {
    await directory.register('c1', entry('relay-1', 'old', 1))
    await directory.register('c1', entry('relay-1', 'new', 2))
    expect(await directory.unregister('c1', 'old')).toBe(false)
    expect((await directory.lookup('c1'))?.socketId).toBe('new')
    expect(await directory.unregister('c1', 'new', 'relay-other')).toBe(false)
    expect(await directory.unregister('c1', 'new', 'relay-1')).toBe(true)
    expect(await directory.lookup('c1')).toBeUndefined()
    expect(await directory.unregister('c1', 'new')).toBe(false)
    // Unregistering is not a socket close: the socket may register again.
    expect(await directory.register('c1', entry('relay-1', 'new', 3))).toBe('registered')
  })

  it('removeRelay drops everything on a dead relay in batches and nothing elsewhere', async () => {
    const small = create({ removeRelayBatchSize: 4 })
    for (let i = 0; i < 25; i++) {
      await small.register(`dead-${i}`, entry('relay-dead', `s${i % 10}`, i))
    }
    await small.register('alive', entry('relay-alive', 's0', 1))
    expect(await small.removeRelay('relay-dead')).toBe(25)
    expect((await small.lookupMany(Array.from({ length: 25 }, (_, i) => `dead-${i}`))).size).toBe(0)
    expect(await small.lookup('alive')).toBeDefined()
    expect(await small.removeRelay('relay-dead')).toBe(0)
    expect(await small.register('late', entry('relay-dead', 's3', 99))).toBe('socket-closed')
  })

  it('counts sockets with live sessions per relay', async () => {
    await directory.register('c1', entry('relay-1', 's1', 1))
    await directory.register('c2', entry('relay-1', 's2', 1))
    await directory.register('c3', entry('relay-2', 's1', 1))
    expect(await directory.countLiveSockets(['relay-1', 'relay-2', 'relay-none'])).toBe(3)
    await directory.removeSocket('relay-1', 's2')
    expect(await directory.countLiveSockets(['relay-1'])).toBe(1)
    expect(await directory.countLiveSockets([])).toBe(0)
  })

  it('leaves no keys behind after cleanup', async () => {
    await directory.register('c1', entry('relay-1', 's1', 1))
    await directory.register('c2', entry('relay-1', 's2', 1))
    await directory.register('c3', entry('relay-2', 's1', 1))
    await directory.register('c3', entry('relay-2', 's9', 2))
    await directory.register('c4', entry('relay:with:colons', 'sock/odd id', 1))
    await directory.unregister('c1', 's1')
    await directory.removeSocket('relay-1', 's2')
    await directory.removeRelay('relay-2')
    await directory.removeSocket('relay:with:colons', 'sock/odd id')
    expect(await liveKeys()).toEqual([])
  })

  it('gives every key a safety TTL, refreshed by touch', async () => {
    const short = create({ entryTtlMs: 60_000 })
    await short.register('c1', entry('relay-1', 's1', 1))
    for (const key of await liveKeys()) {
      const ttl = await redis.pttl(key)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(60_000)
    }
    const long = create({ entryTtlMs: 3_600_000 })
    expect(await long.touch('c1', 's1')).toBe(true)
    expect(await long.touch('c1', 'other')).toBe(false)
    for (const key of await liveKeys()) expect(await redis.pttl(key)).toBeGreaterThan(60_000)
  })

  it('validates what it is asked to store', async () => {
    await expect(
      directory.register('c1', { ...entry('relay-1', 's1', 1), transport: 'carrier-pigeon' as 'ws' }),
    ).rejects.toThrow()
    await expect(directory.register('', entry('relay-1', 's1', 1))).rejects.toThrow(/empty/)
  })
})
