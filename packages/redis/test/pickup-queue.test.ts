import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import type { AgentContext } from '@credo-ts/core'
import type { DidCommEncryptedMessage, QueuedDidCommMessage } from '@credo-ts/didcomm'
import { createTestRedisPrefix } from '@mediator/test-support'
import type { TestRedisPrefix } from '@mediator/test-support'
import { LiveSessionDirectory, PickupQueueFullError, RedisPickupQueue } from '../src/index.js'
import type { LiveSessionEntry, RedisPickupQueueOptions } from '../src/index.js'

/**
 * RedisPickupQueue never reads the agent context (Credo passes it to every repository method), so
 * these tests need no agent; an empty object stands in for it.
 */
const ctx = {} as AgentContext

/** A plausible envelope whose ciphertext says which message it is. */
function envelope(label: string, padBytes = 0): DidCommEncryptedMessage {
  return {
    protected: 'eyJlbmMiOiJ4Y2hhY2hhMjBwb2x5MTMwNV9pZXRmIn0',
    iv: 'aXYtZm9yLXRlc3Rz',
    ciphertext: `${label}${'.'.repeat(padBytes)}`,
    tag: 'dGFn',
  }
}

const labels = (messages: QueuedDidCommMessage[]): string[] =>
  messages.map((m) => m.encryptedMessage.ciphertext.replace(/\.+$/, ''))

/** A clock moved by hand, so lease and retention tests do not depend on timing. */
class ManualClock {
  public nowMs = 1_800_000_000_000
  public readonly now = (): number => this.nowMs
  public advance(ms: number): void {
    this.nowMs += ms
  }
}

describe('RedisPickupQueue', () => {
  let t: TestRedisPrefix
  const connections: Redis[] = []
  let redis: Redis

  const connect = (): Redis => {
    const r = new Redis(t.redisUrl)
    connections.push(r)
    return r
  }
  const createQueue = (options: Partial<RedisPickupQueueOptions> = {}): RedisPickupQueue =>
    new RedisPickupQueue({ redis, prefix: t.prefix, ...options })

  async function addAll(queue: RedisPickupQueue, connectionId: string, items: string[], dids = ['did:key:z6Mk1']) {
    const ids: string[] = []
    for (const label of items) {
      ids.push(await queue.addMessage(ctx, { connectionId, recipientDids: dids, payload: envelope(label) }))
    }
    return ids
  }

  beforeEach(async () => {
    t = await createTestRedisPrefix('pickup-queue')
    redis = connect()
  })

  afterEach(async () => {
    for (const r of connections.splice(0)) r.disconnect()
    await t.cleanup()
  })

  it('hands messages out in the order they were added, each once', async () => {
    const queue = createQueue()
    const ids = await addAll(queue, 'c1', ['m1', 'm2', 'm3', 'm4', 'm5'])
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1' })).toBe(5)

    const first = await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 3 })
    expect(labels(first)).toEqual(['m1', 'm2', 'm3'])
    expect(first.map((m) => m.id)).toEqual(ids.slice(0, 3))
    expect(first[0]?.encryptedMessage).toEqual(envelope('m1'))
    expect(first[0]?.receivedAt).toBeInstanceOf(Date)

    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 10 }))).toEqual(['m4', 'm5'])
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 10 })).toEqual([])
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1' })).toBe(0)
    expect(await queue.getStats('c1')).toMatchObject({ pending: 0, inFlight: 5 })
  })

  it('keeps the receivedAt the caller gives and keeps connections apart', async () => {
    const queue = createQueue()
    const receivedAt = new Date('2026-01-02T03:04:05.678Z')
    await queue.addMessage(ctx, { connectionId: 'a', recipientDids: [], payload: envelope('a1'), receivedAt })
    await addAll(queue, 'b', ['b1'])
    const [taken] = await queue.takeFromQueue(ctx, { connectionId: 'a' })
    expect(taken?.receivedAt.toISOString()).toBe(receivedAt.toISOString())
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'a' })).toBe(0)
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'b' })).toBe(1)
  })

  it('delivers a taken but unconfirmed message again when its lease expires, in its original place', async () => {
    const clock = new ManualClock()
    const queue = createQueue({ clock: clock.now, leaseMs: 60_000 })
    const ids = await addAll(queue, 'c1', ['m1', 'm2', 'm3', 'm4', 'm5'])

    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 3 }))).toEqual(['m1', 'm2', 'm3'])
    clock.advance(59_999)
    // Still leased: only the two never taken are available.
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1' })).toBe(2)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 1 }))).toEqual(['m4'])

    // The wallet confirms m2 only; m1 and m3 come back before m5, which was never taken.
    await queue.removeMessages(ctx, { connectionId: 'c1', messageIds: [ids[1] as string] })
    clock.advance(2)
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1' })).toBe(3)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 10 }))).toEqual(['m1', 'm3', 'm5'])

    // m4's lease (taken at +59,999 ms) runs out later.
    clock.advance(59_999)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 10 }))).toEqual(['m4'])
  })

  it('finds the connections whose leases ran out, without reading the others, and makes those messages pending', async () => {
    const clock = new ManualClock()
    const queue = createQueue({ clock: clock.now, leaseMs: 60_000, purgeBatchSize: 2 })
    await addAll(queue, 'early', ['e1', 'e2', 'e3'])
    await addAll(queue, 'confirmed', ['c1'])
    await addAll(queue, 'untaken', ['u1'])
    await queue.takeFromQueue(ctx, { connectionId: 'early', limit: 2 })
    const [confirmed] = await queue.takeFromQueue(ctx, { connectionId: 'confirmed' })
    await queue.removeMessages(ctx, { connectionId: 'confirmed', messageIds: [confirmed!.id] })
    clock.advance(30_000)
    await addAll(queue, 'late', ['l1'])
    await queue.takeFromQueue(ctx, { connectionId: 'late' })

    expect(await queue.requeueExpiredLeases()).toEqual([])
    clock.advance(30_000)
    // Only 'early' is due: 'confirmed' has nothing in flight, 'untaken' never had, 'late' runs till +90 s.
    expect(await queue.requeueExpiredLeases()).toEqual([{ connectionId: 'early', requeued: 2, pending: 3 }])
    expect(await queue.getStats('early')).toMatchObject({ pending: 3, inFlight: 0 })
    // Done once: a second sweep (another worker's) finds nothing.
    expect(await queue.requeueExpiredLeases()).toEqual([])
    // Taken again, the lease is indexed again, from the new deadline.
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'early', limit: 1 }))).toEqual(['e1'])
    clock.advance(30_000)
    expect(await queue.requeueExpiredLeases()).toEqual([{ connectionId: 'late', requeued: 1, pending: 1 }])
    clock.advance(30_000)
    expect(await queue.requeueExpiredLeases()).toEqual([{ connectionId: 'early', requeued: 1, pending: 3 }])
  })

  it('sweeps leases of many connections in batches', async () => {
    const clock = new ManualClock()
    const queue = createQueue({ clock: clock.now, leaseMs: 1_000, purgeBatchSize: 3 })
    for (let i = 0; i < 10; i++) {
      await addAll(queue, `c${i}`, ['m'])
      await queue.takeFromQueue(ctx, { connectionId: `c${i}` })
    }
    clock.advance(1_000)
    const due = await queue.requeueExpiredLeases()
    expect(due.map((d) => d.connectionId).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`).sort())
  })

  it('lets leases run out on the Redis server clock by default', async () => {
    const queue = createQueue({ leaseMs: 200 })
    const ids = await addAll(queue, 'c1', ['m1', 'm2'])
    const taken = await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 2 })
    expect(taken.map((m) => m.id)).toEqual(ids)

    // Waits for the lease without asserting how long it took.
    let again: QueuedDidCommMessage[] = []
    for (let i = 0; i < 200 && again.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      again = await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 10 })
    }
    expect(again.map((m) => m.id)).toEqual(ids)
  })

  it('releaseInFlight makes every in-flight message available at once, in order', async () => {
    const clock = new ManualClock()
    const queue = createQueue({ clock: clock.now })
    await addAll(queue, 'c1', ['m1', 'm2', 'm3', 'm4'])
    await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 1 })
    await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 2 })
    expect(await queue.getStats('c1')).toMatchObject({ pending: 1, inFlight: 3 })

    expect(await queue.releaseInFlight('c1')).toBe(3)
    expect(await queue.getStats('c1')).toMatchObject({ pending: 4, inFlight: 0 })
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m1', 'm2', 'm3', 'm4'])
    expect(await queue.releaseInFlight('nobody')).toBe(0)
  })

  it('releaseInFlight with ids releases only those', async () => {
    const queue = createQueue()
    const ids = await addAll(queue, 'c1', ['m1', 'm2', 'm3', 'm4'])
    await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 3 })
    // m4 is pending, not in flight; 'unknown' does not exist: neither counts.
    expect(await queue.releaseInFlight('c1', [ids[2] as string, ids[3] as string, 'unknown'])).toBe(1)
    expect(await queue.releaseInFlight('c1', [])).toBe(0)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m3', 'm4'])
    expect(await queue.getStats('c1')).toMatchObject({ pending: 0, inFlight: 4 })
  })

  it('removes exactly the confirmed ids, pending or in flight, and nothing of other connections', async () => {
    const queue = createQueue()
    const ids = await addAll(queue, 'c1', ['m1', 'm2', 'm3', 'm4'])
    const other = await addAll(queue, 'c2', ['o1'])
    await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 2 })

    // m1 is in flight, m3 pending; an unknown id and another connection's id are ignored.
    expect(await queue.remove('c1', [ids[0] as string, ids[2] as string, 'unknown', other[0] as string])).toBe(2)
    expect(await queue.releaseInFlight('c1')).toBe(1)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m2', 'm4'])
    expect(await queue.getQueuedCount('c2')).toBe(1)
    // Removing again is harmless (a wallet may repeat messages-received).
    expect(await queue.remove('c1', [ids[0] as string])).toBe(0)
  })

  it('queues an add with an idempotency key once, even after the first copy was confirmed', async () => {
    const queue = createQueue()
    const add = (label: string, idempotencyKey: string) =>
      queue.addMessage(ctx, { connectionId: 'c1', recipientDids: ['did:key:z6Mk1'], payload: envelope(label), idempotencyKey })
    const first = await add('m1', 'job-1:0')
    // The same job retried (its worker died after the add) adds nothing and gets the same id.
    expect(await add('m1', 'job-1:0')).toBe(first)
    expect(await queue.getQueuedCount('c1')).toBe(1)
    // Confirmed and removed, then the retry comes: still nothing new to deliver.
    await queue.removeMessages(ctx, { connectionId: 'c1', messageIds: [first] })
    expect(await add('m1', 'job-1:0')).toBe(first)
    expect(await queue.getQueuedCount('c1')).toBe(0)
    // Another key is another message; the same key on another connection is independent.
    await add('m2', 'job-2:0')
    await queue.addMessage(ctx, { connectionId: 'c2', recipientDids: [], payload: envelope('x'), idempotencyKey: 'job-1:0' })
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m2'])
    expect(await queue.getQueuedCount('c2')).toBe(1)
  })

  it('removes and releases long id lists (more than one script call)', async () => {
    const queue = createQueue({ maxTakeLimit: 2_000 })
    const ids = await Promise.all(
      Array.from({ length: 1_200 }, (_, i) =>
        queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [], payload: envelope(`m${i}`) }),
      ),
    )
    await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 2_000 })
    const odd = ids.filter((_, i) => i % 2 === 1)
    expect(await queue.releaseInFlight('c1', [...odd, 'unknown'])).toBe(600)
    expect(await queue.remove('c1', [...ids, ...Array.from({ length: 300 }, (_, i) => `junk-${i}`)])).toBe(1_200)
    expect(await queue.getQueuedCount('c1')).toBe(0)
  })

  it('deleteMessages=true (pickup v1) deletes what it takes, so it never comes back', async () => {
    const clock = new ManualClock()
    const queue = createQueue({ clock: clock.now, leaseMs: 1_000 })
    await addAll(queue, 'c1', ['m1', 'm2', 'm3'])
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 2, deleteMessages: true }))).toEqual([
      'm1',
      'm2',
    ])
    expect(await queue.getStats('c1')).toMatchObject({ pending: 1, inFlight: 0 })
    clock.advance(10_000)
    expect(await queue.releaseInFlight('c1')).toBe(0)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', deleteMessages: true }))).toEqual(['m3'])
    expect(await queue.getQueuedCount('c1')).toBe(0)
  })

  it('filters by recipientDid like the in-memory repository, keeping the order', async () => {
    const clock = new ManualClock()
    const queue = createQueue({ clock: clock.now, leaseMs: 1_000 })
    const A = 'did:key:z6MkA'
    const B = 'did:key:z6MkB'
    await queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [A], payload: envelope('a1') })
    await queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [B], payload: envelope('b1') })
    await queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [A, B], payload: envelope('ab') })
    await queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [A], payload: envelope('a2') })

    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1', recipientDid: A })).toBe(3)
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1', recipientDid: B })).toBe(2)
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1', recipientDid: 'did:key:other' })).toBe(0)

    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', recipientDid: A, limit: 2 }))).toEqual([
      'a1',
      'ab',
    ])
    // 'ab' is in flight now, so B sees only b1.
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1', recipientDid: B })).toBe(1)
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1' })).toBe(2)

    clock.advance(1_001)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', recipientDid: B }))).toEqual(['b1', 'ab'])
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['a1', 'a2'])
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1', recipientDid: 'did:key:other' })).toEqual([])
  })

  it('counts and purges messages past retention, visiting only connections that have some', async () => {
    const clock = new ManualClock()
    const expiredCalls: Array<[number, string]> = []
    const queue = createQueue({
      clock: clock.now,
      maxAgeMs: 1_000,
      onExpired: (count, connectionId) => expiredCalls.push([count, connectionId]),
    })
    await addAll(queue, 'old-a', ['a1', 'a2'])
    await addAll(queue, 'old-b', ['b1'])
    await queue.takeFromQueue(ctx, { connectionId: 'old-b' }) // in flight still expires
    clock.advance(900)
    await addAll(queue, 'old-a', ['a3'])
    await addAll(queue, 'fresh', ['f1'])

    clock.advance(600) // a1, a2, b1 are 1,500 ms old; a3 and f1 600 ms
    expect(await queue.purgeExpired()).toEqual({ connections: 2, expired: 3 })
    expect(expiredCalls.sort()).toEqual([
      [1, 'old-b'],
      [2, 'old-a'],
    ])
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'old-a' }))).toEqual(['a3'])
    expect(await queue.getQueuedCount('old-b')).toBe(0)
    expect(await queue.getQueuedCount('fresh')).toBe(1)
    expect(await queue.getGlobalStats()).toEqual({ connectionsWithMessages: 2, expiredTotal: 3 })
    expect(await queue.purgeExpired()).toEqual({ connections: 0, expired: 0 })

    // Lazily on access too, without a sweep.
    clock.advance(1_000)
    expiredCalls.length = 0
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'fresh' })).toBe(0)
    expect(expiredCalls).toEqual([[1, 'fresh']])
    expect((await queue.getGlobalStats()).expiredTotal).toBe(4)
  })

  it('sweeps many connections in batches', async () => {
    const clock = new ManualClock()
    let counted = 0
    const queue = createQueue({
      clock: clock.now,
      maxAgeMs: 1_000,
      purgeBatchSize: 7,
      onExpired: (count) => (counted += count),
    })
    for (let i = 0; i < 30; i++) await addAll(queue, `conn-${i}`, ['x', 'y'])
    clock.advance(1_001)
    expect(await queue.purgeExpired()).toEqual({ connections: 30, expired: 60 })
    expect(counted).toBe(60)
    // The deployment-wide order counter stays: it orders every later message.
    expect(await t.listKeys()).toEqual([`${t.prefix}:order:seq`, `${t.prefix}:pq:expired-total`])
  })

  it('refuses a message over the message cap with PickupQueueFullError and loses nothing', async () => {
    const queue = createQueue({ maxMessagesPerConnection: 3 })
    const ids = await addAll(queue, 'c1', ['m1', 'm2', 'm3'])
    const error = await queue
      .addMessage(ctx, { connectionId: 'c1', recipientDids: [], payload: envelope('m4') })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PickupQueueFullError)
    expect(error).toMatchObject({ connectionId: 'c1', limitKind: 'messages', limit: 3, current: 3 })

    // In-flight messages count against the cap too; a confirmation frees room.
    await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 1 })
    await expect(addAll(queue, 'c1', ['m4'])).rejects.toBeInstanceOf(PickupQueueFullError)
    await queue.removeMessages(ctx, { connectionId: 'c1', messageIds: [ids[0] as string] })
    await addAll(queue, 'c1', ['m5'])
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m2', 'm3', 'm5'])
    // Another connection has its own cap.
    await addAll(queue, 'c2', ['o1', 'o2', 'o3'])
  })

  it('refuses a message over the byte cap', async () => {
    const size = Buffer.byteLength(JSON.stringify(envelope('m1', 1_000)))
    const queue = createQueue({ maxBytesPerConnection: size * 2 + 10 })
    await queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [], payload: envelope('m1', 1_000) })
    await queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [], payload: envelope('m2', 1_000) })
    const error = await queue
      .addMessage(ctx, { connectionId: 'c1', recipientDids: [], payload: envelope('m3', 1_000) })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'PickupQueueFullError', limitKind: 'bytes', current: size * 2 })
    expect(await queue.getStats('c1')).toMatchObject({ pending: 2, bytes: size * 2 })
  })

  it('never gives one message to two concurrent takers within a lease, and together they get all', async () => {
    const total = 300
    const producer = createQueue()
    const ids = await addAll(
      producer,
      'busy',
      Array.from({ length: total }, (_, i) => `m${i}`),
    )
    // Each taker has its own connection and queue instance, as separate worker processes would.
    const takers = Array.from({ length: 6 }, () => new RedisPickupQueue({ redis: connect(), prefix: t.prefix }))
    const perTaker = await Promise.all(
      takers.map(async (queue) => {
        const got: QueuedDidCommMessage[] = []
        // Bounded, so a queue that hands messages out twice fails the assertions below instead of looping.
        for (let round = 0; round < total; round++) {
          const batch = await queue.takeFromQueue(ctx, { connectionId: 'busy', limit: 7 })
          if (batch.length === 0) break
          got.push(...batch)
        }
        return got
      }),
    )
    const all = perTaker.flat().map((m) => m.id)
    expect(all).toHaveLength(total)
    expect(new Set(all).size).toBe(total)
    expect(new Set(all)).toEqual(new Set(ids))
    // Each taker saw its share in queue order.
    for (const got of perTaker) {
      const positions = got.map((m) => ids.indexOf(m.id))
      expect(positions).toEqual([...positions].sort((a, b) => a - b))
    }
  })

  it('keeps each producer’s order when several workers add at once', async () => {
    const producers = Array.from({ length: 4 }, () => new RedisPickupQueue({ redis: connect(), prefix: t.prefix }))
    await Promise.all(
      producers.map((queue, p) => addAll(queue, 'shared', Array.from({ length: 25 }, (_, i) => `p${p}-${i}`))),
    )
    const taken = labels(await createQueue({ maxTakeLimit: 1_000 }).takeFromQueue(ctx, { connectionId: 'shared', limit: 1_000 }))
    expect(taken).toHaveLength(100)
    for (let p = 0; p < 4; p++) {
      expect(taken.filter((l) => l.startsWith(`p${p}-`))).toEqual(Array.from({ length: 25 }, (_, i) => `p${p}-${i}`))
    }
  })

  it('caps one take at maxTakeLimit', async () => {
    const queue = createQueue({ maxTakeLimit: 4 })
    await addAll(queue, 'c1', ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1' })).toHaveLength(4)
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 100 })).toHaveLength(2)
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: 0 })).toEqual([])
  })

  it('is durable: a new instance on a new connection sees the same queue and leases', async () => {
    const first = createQueue()
    await addAll(first, 'c1', ['m1', 'm2', 'm3'])
    await first.takeFromQueue(ctx, { connectionId: 'c1', limit: 1 })
    redis.disconnect()

    const second = new RedisPickupQueue({ redis: connect(), prefix: t.prefix })
    expect(await second.getStats('c1')).toMatchObject({ pending: 2, inFlight: 1 })
    expect(labels(await second.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m2', 'm3'])
    expect(await second.releaseInFlight('c1')).toBe(3)
    expect(labels(await second.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m1', 'm2', 'm3'])
  })

  it('leaves no key behind once a queue is empty or deleted', async () => {
    const queue = createQueue()
    const ids = await addAll(queue, 'c1', ['m1', 'm2'], ['did:key:z6MkA', 'did:key:z6MkB'])
    await addAll(queue, 'c2', ['o1', 'o2', 'o3'])
    await queue.takeFromQueue(ctx, { connectionId: 'c1', recipientDid: 'did:key:z6MkA', limit: 1 })
    await queue.removeMessages(ctx, { connectionId: 'c1', messageIds: ids })
    await queue.takeFromQueue(ctx, { connectionId: 'c2', limit: 1 })
    expect(await queue.deleteConnection('c2')).toBe(3)
    // Nothing per connection; only the deployment-wide order counter, which orders every later message.
    expect(await t.listKeys()).toEqual([`${t.prefix}:order:seq`])
    expect(await queue.getGlobalStats()).toEqual({ connectionsWithMessages: 0, expiredTotal: 0 })
  })

  it('keeps connections apart even when their ids look like key names', async () => {
    const queue = createQueue()
    await addAll(queue, 'a', ['a1'], ['b:pending'])
    await addAll(queue, 'a:r:b', ['x1'])
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'a', recipientDid: 'b:pending' }))).toEqual(['a1'])
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'a:r:b' }))).toEqual(['x1'])
  })

  it('refuses an ioredis client with its own keyPrefix, and a nonsense limit takes nothing', async () => {
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'x:' })
    connections.push(prefixed)
    expect(() => new RedisPickupQueue({ redis: prefixed, prefix: t.prefix })).toThrow(/keyPrefix/)
    const queue = createQueue()
    await addAll(queue, 'c1', ['m1'])
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: Number.NaN })).toEqual([])
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1', limit: -3 })).toEqual([])
    expect(await queue.getAvailableMessageCount(ctx, { connectionId: 'c1' })).toBe(1)
  })

  it('rejects an empty connection id instead of writing odd keys', async () => {
    const queue = createQueue()
    await expect(queue.addMessage(ctx, { connectionId: '', recipientDids: [], payload: envelope('m') })).rejects.toThrow(
      /connectionId/,
    )
  })

  describe('addMessageAndTakeIfLive', () => {
    const liveEntry: LiveSessionEntry = {
      relayId: 'relay-1',
      socketId: 'sock-1',
      transport: 'ws',
      registeredAt: 1_700_000_000_000,
      sessionId: 'session-1',
      keys: { recipientKeys: ['wallet-key'], senderKey: 'mediator-key' },
    }
    const createDirectory = () => new LiveSessionDirectory({ redis, prefix: t.prefix })
    const addTake = (
      queue: RedisPickupQueue,
      directory: LiveSessionDirectory,
      label: string,
      extra: { connectionId?: string; idempotencyKey?: string; limit?: number; token?: string } = {},
    ) => {
      const connectionId = extra.connectionId ?? 'c1'
      return queue.addMessageAndTakeIfLive(
        ctx,
        {
          connectionId,
          recipientDids: ['did:key:z6Mk1'],
          payload: envelope(label),
          ...(extra.idempotencyKey ? { idempotencyKey: extra.idempotencyKey } : {}),
        },
        { entryKey: directory.keys.entry(connectionId), limit: extra.limit ?? 10, token: extra.token ?? 'delivery-1' },
      )
    }

    it('lets one live delivery at a time hold a connection, and tells the holder what came meanwhile', async () => {
      const clock = new ManualClock()
      const queue = createQueue({ clock: clock.now, leaseMs: 60_000, liveLockMs: 5_000 })
      const directory = createDirectory()
      await directory.register('c1', liveEntry)
      // Worker A takes m1 and is sending it; worker B queues m2 meanwhile and must not send it first.
      expect(labels((await addTake(queue, directory, 'm1', { token: 'A' })).live?.messages ?? [])).toEqual(['m1'])
      expect((await addTake(queue, directory, 'm2', { token: 'B' })).live?.messages).toEqual([])
      expect(await queue.takeFromQueue(ctx, { connectionId: 'c1', liveToken: 'B' })).toEqual([])
      // A's send was answered: it hands on, and is told m2 waits.
      expect(await queue.releaseLive('c1', 'A')).toEqual({ released: true, available: 1 })
      expect(await queue.releaseLive('c1', 'A')).toEqual({ released: false, available: 1 })
      expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', liveToken: 'B' }))).toEqual(['m2'])
      // The holder itself may go on (a job that queues twice); a pickup is no live delivery.
      expect(labels((await addTake(queue, directory, 'm3', { token: 'B' })).live?.messages ?? [])).toEqual(['m3'])
      expect((await addTake(queue, directory, 'm4', { token: 'C' })).live?.messages).toEqual([])
      expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m4'])
      // A holder that died: its hold runs out, and the next delivery goes.
      expect((await addTake(queue, directory, 'm5', { token: 'C' })).live?.messages).toEqual([])
      clock.advance(5_001)
      expect(labels((await addTake(queue, directory, 'm6', { token: 'D' })).live?.messages ?? [])).toEqual(['m5', 'm6'])
    })

    it('takes for a live session with its lookup in one step, and ends the hold once the holder finds nothing more', async () => {
      const queue = createQueue({ leaseMs: 60_000, liveLockMs: 5_000 })
      const directory = createDirectory()
      const takeLive = (token: string) =>
        queue.takeForLive('c1', { entryKey: directory.keys.entry('c1'), limit: 10, token })
      await addAll(queue, 'c1', ['m1'])
      // No live session: nothing is taken, nothing held.
      expect(await takeLive('A')).toEqual({ messages: [] })
      expect(await queue.getStats('c1')).toMatchObject({ pending: 1, inFlight: 0 })
      await directory.register('c1', liveEntry)
      const first = await takeLive('A')
      expect(first.entry).toEqual(liveEntry)
      expect(labels(first.messages)).toEqual(['m1'])
      // Another delivery must wait while A sends; A, handing on, takes what came meanwhile.
      await addAll(queue, 'c1', ['m2'])
      expect((await takeLive('B')).messages).toEqual([])
      expect(labels((await takeLive('A')).messages)).toEqual(['m2'])
      // A finds nothing more: that take ends its hold, and B's next delivery goes.
      expect((await takeLive('A')).messages).toEqual([])
      await addAll(queue, 'c1', ['m3'])
      expect(labels((await takeLive('B')).messages)).toEqual(['m3'])
      expect(await queue.releaseLive('c1', 'A')).toMatchObject({ released: false })
    })

    it('holds a connection no longer than the lease of what it sent', async () => {
      const clock = new ManualClock()
      const queue = createQueue({ clock: clock.now, leaseMs: 1_000, liveLockMs: 10_000 })
      const directory = createDirectory()
      await directory.register('c1', liveEntry)
      await addTake(queue, directory, 'm1', { token: 'A' })
      clock.advance(1_001)
      expect(labels((await addTake(queue, directory, 'm2', { token: 'B' })).live?.messages ?? [])).toEqual(['m1', 'm2'])
    })

    it('only queues when the wallet has no live session', async () => {
      const queue = createQueue()
      const directory = createDirectory()
      const result = await addTake(queue, directory, 'm1')
      expect(result.live).toBeUndefined()
      expect(await queue.getStats('c1')).toMatchObject({ pending: 1, inFlight: 0 })
      const [taken] = await queue.takeFromQueue(ctx, { connectionId: 'c1' })
      expect(taken?.id).toBe(result.id)
      expect(taken?.encryptedMessage).toEqual(envelope('m1'))
    })

    it('takes what is pending, oldest first, under a lease, and returns the entry as the directory reads it', async () => {
      const clock = new ManualClock()
      const queue = createQueue({ clock: clock.now, leaseMs: 60_000 })
      const directory = createDirectory()
      const earlier = await addAll(queue, 'c1', ['m1', 'm2'])
      expect(await directory.register('c1', liveEntry)).toBe('registered')

      const result = await addTake(queue, directory, 'm3', { limit: 2 })
      expect(result.live?.entry).toEqual(await directory.lookup('c1'))
      expect(result.live?.entry).toEqual(liveEntry)
      expect(labels(result.live?.messages ?? [])).toEqual(['m1', 'm2'])
      expect(result.live?.messages.map((m) => m.id)).toEqual(earlier)
      expect(await queue.getStats('c1')).toMatchObject({ pending: 1, inFlight: 2 })

      // The next forward takes the one left and its own; the leased ones are not taken twice.
      const next = await addTake(queue, directory, 'm4')
      expect(labels(next.live?.messages ?? [])).toEqual(['m3', 'm4'])
      expect(next.live?.messages[0]?.id).toBe(result.id)

      // Unconfirmed, they come back when the lease runs out, in their original order.
      clock.advance(60_001)
      expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m1', 'm2', 'm3', 'm4'])
    })

    it('takes at most maxTakeLimit and keeps other connections apart', async () => {
      const queue = createQueue({ maxTakeLimit: 2 })
      const directory = createDirectory()
      await directory.register('c1', liveEntry)
      await addAll(queue, 'c1', ['m1', 'm2'])
      await addAll(queue, 'c2', ['x1'])
      const result = await addTake(queue, directory, 'm3', { limit: 50 })
      expect(labels(result.live?.messages ?? [])).toEqual(['m1', 'm2'])
      // c2 has no live session of its own.
      expect((await addTake(queue, directory, 'x2', { connectionId: 'c2' })).live).toBeUndefined()
      expect(await queue.getStats('c2')).toMatchObject({ pending: 2, inFlight: 0 })
    })

    it('releases exactly the taken ids on a failed send', async () => {
      const queue = createQueue()
      const directory = createDirectory()
      await directory.register('c1', liveEntry)
      const first = await addTake(queue, directory, 'm1')
      const second = await addTake(queue, directory, 'm2')
      expect(labels(second.live?.messages ?? [])).toEqual(['m2'])
      expect(await queue.releaseInFlight('c1', second.live?.messages.map((m) => m.id))).toBe(1)
      // m1 keeps its lease (another worker's delivery); m2 is available again.
      expect(await queue.getStats('c1')).toMatchObject({ pending: 1, inFlight: 1 })
      const [again] = await queue.takeFromQueue(ctx, { connectionId: 'c1' })
      expect(again?.id).toBe(second.id)
      expect(first.live?.messages.map((m) => m.id)).toEqual([first.id])
    })

    it('refuses a full queue with PickupQueueFullError and takes nothing', async () => {
      const queue = createQueue({ maxMessagesPerConnection: 2 })
      const directory = createDirectory()
      await addAll(queue, 'c1', ['m1', 'm2'])
      await directory.register('c1', liveEntry)
      const refused = await addTake(queue, directory, 'm3').catch((error: unknown) => error)
      expect(refused).toBeInstanceOf(PickupQueueFullError)
      expect(refused).toMatchObject({ limitKind: 'messages', limit: 2 })
      expect(await queue.getStats('c1')).toMatchObject({ pending: 2, inFlight: 0 })
    })

    it('queues an idempotent add once, and a repeated add still takes for the live session', async () => {
      const queue = createQueue()
      const directory = createDirectory()
      const first = await addTake(queue, directory, 'm1', { idempotencyKey: 'job-1:0' })
      expect(first.live).toBeUndefined()
      // The plain add shares the marker: the same key through either operation queues once.
      expect(
        await queue.addMessage(ctx, {
          connectionId: 'c1',
          recipientDids: [],
          payload: envelope('m1'),
          idempotencyKey: 'job-1:0',
        }),
      ).toBe(first.id)
      await directory.register('c1', liveEntry)
      const retried = await addTake(queue, directory, 'm1', { idempotencyKey: 'job-1:0' })
      expect(retried.id).toBe(first.id)
      expect(retried.live?.messages.map((m) => m.id)).toEqual([first.id])
      expect(await queue.getQueuedCount('c1')).toBe(1)
      // Confirmed, then retried again: nothing new is queued, nothing is taken.
      await queue.removeMessages(ctx, { connectionId: 'c1', messageIds: [first.id] })
      const late = await addTake(queue, directory, 'm1', { idempotencyKey: 'job-1:0' })
      expect(late.id).toBe(first.id)
      expect(late.live?.messages).toEqual([])
      expect(await queue.getQueuedCount('c1')).toBe(0)
    })

    it('treats an entry that does not parse as no live session and releases what it took', async () => {
      const queue = createQueue()
      const directory = createDirectory()
      await redis.hset(directory.keys.entry('c1'), { relayId: 'relay-1', socketId: 'sock-1', transport: 'pigeon' })
      const result = await addTake(queue, directory, 'm1')
      expect(result.live).toBeUndefined()
      expect(await queue.getStats('c1')).toMatchObject({ pending: 1, inFlight: 0 })
    })
  })
})
