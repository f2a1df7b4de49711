import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import type { AgentContext } from '@credo-ts/core'
import type { DidCommEncryptedMessage, QueuedDidCommMessage } from '@credo-ts/didcomm'
import { createTestRedisPrefix } from '@mediator/test-support'
import type { TestRedisPrefix } from '@mediator/test-support'
import { InboundOrder, LiveSessionDirectory, RedisPickupQueue, orderKeyOf } from '../src/index.js'

/** RedisPickupQueue never reads the agent context. */
const ctx = {} as AgentContext

const envelope = (label: string): DidCommEncryptedMessage => ({
  protected: 'eyJlbmMiOiJ4Y2hhY2hhMjBwb2x5MTMwNV9pZXRmIn0',
  iv: 'aXYtZm9yLXRlc3Rz',
  ciphertext: label,
  tag: 'dGFn',
})
const labels = (messages: QueuedDidCommMessage[]): string[] => messages.map((m) => m.encryptedMessage.ciphertext)

class ManualClock {
  public nowMs = 1_800_000_000_000
  public readonly now = (): number => this.nowMs
  public advance(ms: number): void {
    this.nowMs += ms
  }
}

const HOLD_MS = 2_000

describe('InboundOrder with the pickup queue', () => {
  let t: TestRedisPrefix
  let redis: Redis
  let clock: ManualClock
  let order: InboundOrder
  let queue: RedisPickupQueue
  let held: string[]

  beforeEach(async () => {
    t = await createTestRedisPrefix('inbound-order')
    redis = new Redis(t.redisUrl)
    clock = new ManualClock()
    held = []
    order = new InboundOrder({ redis, prefix: t.prefix, holdMs: HOLD_MS, clock: clock.now })
    queue = new RedisPickupQueue({
      redis,
      prefix: t.prefix,
      orderHoldMs: HOLD_MS,
      clock: clock.now,
      onHeld: (connectionId) => held.push(connectionId),
    })
  })

  afterEach(async () => {
    redis.disconnect()
    await t.cleanup()
  })

  /** What a worker does for one inbound message: queue its position-th add under the job's place. */
  const queueFor = (messageId: string, seq: number, label: string, connectionId = 'c1', position = 0) =>
    queue.addMessage(ctx, {
      connectionId,
      recipientDids: ['did:key:z6Mk1'],
      payload: envelope(label),
      orderKey: orderKeyOf(seq, position),
      orderOwner: messageId,
      idempotencyKey: `${messageId}:${position}`,
    })

  it('gives every registration the next place, and only barriers hold anything back', async () => {
    const a = await order.register('a', false)
    const b = await order.register('b', true)
    const c = await order.register('c', false)
    expect([a.seq, b.seq, c.seq]).toEqual([a.seq, a.seq + 1, a.seq + 2])
    expect(await order.getStats()).toMatchObject({ open: 1 })
    await order.abandon('b')
    expect(await order.getStats()).toMatchObject({ open: 0, deferred: 0 })
  })

  it('queues by the place relays acknowledged messages in, whatever order workers queue them in', async () => {
    // The shape of the bug this fixes: three forwards acknowledged one after another, queued by
    // workers that finished them in another order.
    const https = await order.register('https', true)
    const legacy = await order.register('legacy', true)
    const didKey = await order.register('did-key', true)
    await queueFor('legacy', legacy.seq, 'legacy')
    await order.finish('legacy')
    await queueFor('https', https.seq, 'https')
    await order.finish('https')
    await queueFor('did-key', didKey.seq, 'did:key')
    await order.finish('did-key')
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['https', 'legacy', 'did:key'])
  })

  it('keeps a job\'s own adds in the order it made them, and a retried job in its old place', async () => {
    const first = await order.register('first', true)
    const second = await order.register('second', true)
    await queueFor('second', second.seq, 'second')
    await order.finish('second')
    // The first job's worker died after its first add; the retry adds both again (the first is a no-op).
    await queueFor('first', first.seq, 'first-0', 'c1', 0)
    await queueFor('first', first.seq, 'first-0', 'c1', 0)
    await queueFor('first', first.seq, 'first-1', 'c1', 1)
    await order.finish('first')
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['first-0', 'first-1', 'second'])
  })

  it('hands out nothing acknowledged after a message still in process, then everything once it is done', async () => {
    const early = await order.register('early', true)
    const late = await order.register('late', true)
    await queueFor('late', late.seq, 'late')
    await order.finish('late')
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1' })).toEqual([])
    expect(held).toEqual(['c1'])
    // `early` is for another wallet: once it is processed, c1's message may go.
    await queueFor('early', early.seq, 'other', 'c2')
    await order.finish('early')
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['late'])
  })

  it('holds nothing back for the message being processed itself, and hands out what is older', async () => {
    const older = await order.register('older', false)
    await queueFor('older', older.seq, 'older')
    const own = await order.register('own', true)
    await order.register('later', true)
    await queueFor('own', own.seq, 'own')
    // Inside the job of `own`: its own message and the older one go; none acknowledged after `later` would.
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1', orderOwner: 'own' }))).toEqual(['older', 'own'])
    await order.finish('later')
  })

  it('remembers a held live delivery and names it when the message it waited for is done', async () => {
    const directory = new LiveSessionDirectory({ redis, prefix: t.prefix })
    await directory.register('c1', { relayId: 'r1', socketId: 's1', transport: 'ws', registeredAt: clock.nowMs })
    await order.register('early', true)
    const late = await order.register('late', true)
    const live = await queue.addMessageAndTakeIfLive(
      ctx,
      { connectionId: 'c1', recipientDids: [], payload: envelope('late'), orderKey: orderKeyOf(late.seq, 0), orderOwner: 'late' },
      { entryKey: directory.keys.entry('c1'), limit: 10, token: 'late' },
    )
    expect(live.live?.messages).toEqual([])
    expect(await order.finish('late')).toEqual({ dropped: 0, due: [] })
    expect(await order.getStats()).toMatchObject({ open: 1, deferred: 1 })
    expect(await order.finish('early')).toEqual({ dropped: 0, due: ['c1'] })
    expect(await order.getStats()).toMatchObject({ open: 0, deferred: 0 })
    const taken = await queue.takeFromQueue(ctx, { connectionId: 'c1', deferIfHeld: true })
    expect(labels(taken)).toEqual(['late'])
  })

  it('hands a delivery that waited for both a hold and an open message to whoever finishes that message', async () => {
    const directory = new LiveSessionDirectory({ redis, prefix: t.prefix })
    await directory.register('c1', { relayId: 'r1', socketId: 's1', transport: 'ws', registeredAt: clock.nowMs })
    const live = (label: string, messageId: string, seq: number) =>
      queue.addMessageAndTakeIfLive(
        ctx,
        { connectionId: 'c1', recipientDids: [], payload: envelope(label), orderKey: orderKeyOf(seq, 0), orderOwner: messageId },
        { entryKey: directory.keys.entry('c1'), limit: 10, token: messageId },
      )
    const first = await order.register('first', true)
    expect(labels((await live('first', 'first', first.seq)).live?.messages ?? [])).toEqual(['first'])
    await order.register('early', true)
    const late = await order.register('late', true)
    // `late` finds the connection held by `first`'s delivery, and would wait for `early` anyway.
    expect((await live('late', 'late', late.seq)).live?.messages).toEqual([])
    await order.finish('late')
    await order.finish('first')
    expect(await queue.releaseLive('c1', 'first')).toEqual({ released: true, available: 0 })
    expect(await order.finish('early')).toEqual({ dropped: 0, due: ['c1'] })
  })

  it('lets a settling add give up its message\'s place in the same step, naming the deliveries now due', async () => {
    const directory = new LiveSessionDirectory({ redis, prefix: t.prefix })
    for (const c of ['c1', 'c2']) {
      await directory.register(c, { relayId: 'r1', socketId: `s-${c}`, transport: 'ws', registeredAt: clock.nowMs })
    }
    const liveAdd = (label: string, messageId: string, seq: number, connectionId: string, settlesOrder: boolean) =>
      queue.addMessageAndTakeIfLive(
        ctx,
        {
          connectionId,
          recipientDids: [],
          payload: envelope(label),
          orderKey: orderKeyOf(seq, 0),
          orderOwner: messageId,
          idempotencyKey: `${messageId}:0`,
          settlesOrder,
        },
        { entryKey: directory.keys.entry(connectionId), limit: 10, token: `t-${messageId}` },
      )
    const early = await order.register('early', true)
    const late = await order.register('late', true)
    // `late` for c1 is queued first and settles: c1's delivery waits for `early`, and `late` holds nobody back.
    const lateAdd = await liveAdd('late', 'late', late.seq, 'c1', true)
    expect(lateAdd.live?.messages).toEqual([])
    expect(lateAdd.due).toEqual([])
    expect(await order.getStats()).toMatchObject({ open: 1, deferred: 1 })
    // `early` for c2 settles too: its own wallet is served by its take, and c1 is handed back as due.
    const earlyAdd = await liveAdd('early', 'early', early.seq, 'c2', true)
    expect(labels(earlyAdd.live?.messages ?? [])).toEqual(['early'])
    expect(earlyAdd.due).toEqual(['c1'])
    expect(await order.getStats()).toMatchObject({ open: 0, deferred: 0 })
    // The job's end finds nothing left to finish; a retry's repeated add settles nothing twice.
    expect(await order.finish('early')).toEqual({ dropped: 0, due: [] })
    expect((await liveAdd('late', 'late', late.seq, 'c1', true)).due).toEqual([])
  })

  it('keeps a message open when its add does not settle, or when the add is refused', async () => {
    const small = new RedisPickupQueue({ redis, prefix: t.prefix, orderHoldMs: HOLD_MS, clock: clock.now, maxMessagesPerConnection: 1 })
    const directory = new LiveSessionDirectory({ redis, prefix: t.prefix })
    const add = (messageId: string, seq: number, settlesOrder: boolean) =>
      small.addMessageAndTakeIfLive(
        ctx,
        { connectionId: 'c1', recipientDids: [], payload: envelope(messageId), orderKey: orderKeyOf(seq, 0), orderOwner: messageId, settlesOrder },
        { entryKey: directory.keys.entry('c1'), limit: 10, token: `t-${messageId}` },
      )
    const a = await order.register('a', true)
    const b = await order.register('b', true)
    await add('a', a.seq, false)
    expect(await order.getStats()).toMatchObject({ open: 2 })
    await expect(add('b', b.seq, true)).rejects.toThrow()
    expect(await order.getStats()).toMatchObject({ open: 2 })
  })

  it('hands a delivery left behind another delivery\'s hold to the periodic check once that hold ran out', async () => {
    const short = new RedisPickupQueue({ redis, prefix: t.prefix, orderHoldMs: HOLD_MS, clock: clock.now, liveLockMs: 5_000 })
    const directory = new LiveSessionDirectory({ redis, prefix: t.prefix })
    await directory.register('c1', { relayId: 'r1', socketId: 's1', transport: 'ws', registeredAt: clock.nowMs })
    const live = (label: string, token: string) =>
      short.addMessageAndTakeIfLive(
        ctx,
        { connectionId: 'c1', recipientDids: [], payload: envelope(label) },
        { entryKey: directory.keys.entry('c1'), limit: 10, token },
      )
    // A's worker takes m1 and dies before it hands on; m2 finds the connection held.
    expect(labels((await live('m1', 'A')).live?.messages ?? [])).toEqual(['m1'])
    expect((await live('m2', 'B')).live?.messages).toEqual([])
    expect(await order.finish()).toEqual({ dropped: 0, due: [] })
    clock.advance(5_001)
    expect(await order.finish()).toEqual({ dropped: 0, due: ['c1'] })
    expect(await order.finish()).toEqual({ dropped: 0, due: [] })
    const taken = await short.takeForLive('c1', { entryKey: directory.keys.entry('c1'), limit: 10, token: 'C' })
    expect(labels(taken.messages)).toEqual(['m2'])
  })

  it('stops waiting for a message whose worker died once it held everything back for the hold', async () => {
    // A dead worker's three jobs, and one processed by a live worker after them.
    const dead = [await order.register('d1', true), await order.register('d2', true), await order.register('d3', true)]
    const alive = await order.register('alive', true)
    await queueFor('alive', alive.seq, 'alive')
    expect(await order.finish('alive')).toEqual({ dropped: 0, due: [] })
    await queue.takeFromQueue(ctx, { connectionId: 'c1', deferIfHeld: true })
    clock.advance(HOLD_MS - 1)
    expect((await order.finish()).dropped).toBe(0)
    expect(await queue.takeFromQueue(ctx, { connectionId: 'c1' })).toEqual([])
    clock.advance(1)
    // All three go together: they were open before the first of them became the oldest.
    expect(await order.finish()).toEqual({ dropped: 3, due: ['c1'] })
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['alive'])
    // Their retries still queue in their place, before what came after them and is still queued.
    const after = await order.register('after', false)
    await queueFor('after', after.seq, 'after')
    for (const [i, ref] of dead.entries()) await queueFor(`d${i + 1}`, ref.seq, `d${i + 1}`)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['d1', 'd2', 'd3', 'after'])
  })

  it('gives a message that keeps moving the head no hold at all, however long the backlog', async () => {
    const refs = []
    for (let i = 0; i < 5; i++) refs.push(await order.register(`m${i}`, true))
    for (const [i, ref] of refs.entries()) {
      clock.advance(HOLD_MS - 1)
      await queueFor(`m${i}`, ref.seq, `m${i}`)
      expect((await order.finish(`m${i}`)).dropped).toBe(0)
    }
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
  })

  it('puts a lease that ran out back in its place among later messages', async () => {
    const a = await order.register('a', false)
    const b = await order.register('b', false)
    await queueFor('a', a.seq, 'a')
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['a'])
    await queueFor('b', b.seq, 'b')
    clock.advance(60_001)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['a', 'b'])
  })

  it('orders places far beyond 14 digits exactly', async () => {
    await redis.set(order.keys.seq, String(2 ** 46))
    const first = await order.register('first', false)
    const second = await order.register('second', false)
    await queueFor('second', second.seq, 'second')
    await queueFor('first', first.seq, 'first')
    expect(orderKeyOf(second.seq, 0) - orderKeyOf(first.seq, 0)).toBe(64)
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['first', 'second'])
  })

  it('puts an add outside any job after everything registered before it', async () => {
    const before = await order.register('before', false)
    await queue.addMessage(ctx, { connectionId: 'c1', recipientDids: [], payload: envelope('unordered') })
    await queueFor('before', before.seq, 'before')
    expect(labels(await queue.takeFromQueue(ctx, { connectionId: 'c1' }))).toEqual(['before', 'unordered'])
  })
})
