import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createTestRedisPrefix, type TestRedisPrefix } from '@mediator/test-support'
import { PushCoalescer } from '../src/index.js'

let space: TestRedisPrefix
let redis: Redis
let other: Redis

beforeEach(async () => {
  space = await createTestRedisPrefix('push-coalescer')
  redis = new Redis(space.redisUrl)
  other = new Redis(space.redisUrl)
})
afterEach(async () => {
  redis.disconnect()
  other.disconnect()
  await space.cleanup()
})

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await read()
    if (done(value)) return value
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('PushCoalescer', () => {
  it('lets one of many concurrent claims of two workers send', async () => {
    const a = new PushCoalescer(redis, space.prefix, 60_000)
    const b = new PushCoalescer(other, space.prefix, 60_000)
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).claim('conn-1')))
    expect(results.filter((r) => r === 'send')).toHaveLength(1)
    // Another wallet has its own window.
    expect(await a.claim('conn-2')).toBe('send')
  })

  it('opens a new window once the last one ended', async () => {
    const coalescer = new PushCoalescer(redis, space.prefix, 150)
    expect(await coalescer.claim('conn-1')).toBe('send')
    await until(() => coalescer.claim('conn-1'), (r) => r === 'send', 'the next window')
  })

  it('sends one trailing notification for what came during a window, to exactly one sweeper', async () => {
    const a = new PushCoalescer(redis, space.prefix, 200)
    const b = new PushCoalescer(other, space.prefix, 200)
    expect(await a.claim('conn-1')).toBe('send')
    expect(await b.claim('conn-1')).toBe('coalesced')
    expect(await a.claim('conn-1')).toBe('coalesced')
    expect(await a.takeDue()).toEqual([])
    const taken: string[] = []
    await until(
      async () => {
        const [fromA, fromB] = await Promise.all([a.takeDue(), b.takeDue()])
        taken.push(...fromA, ...fromB)
        return taken
      },
      (t) => t.length > 0,
      'the due wallet',
    )
    expect(taken).toEqual(['conn-1'])
    // The trailing notification claimed the next window: a message now is coalesced into it.
    expect(await a.claim('conn-1')).toBe('coalesced')
    expect(await a.takeDue()).toEqual([])
  })

  it('keeps a wallet due when the sweep comes a moment before its window really ends', async () => {
    const coalescer = new PushCoalescer(redis, space.prefix, 300)
    expect(await coalescer.claim('conn-1')).toBe('send')
    expect(await coalescer.claim('conn-1')).toBe('coalesced')
    // The mark's time is the window's end rounded down to the millisecond; a sweep at that very
    // millisecond finds the window still open. Made certain here by moving the mark into the past.
    await redis.zadd(`${space.prefix}:push:due`, 'XX', 0, 'conn-1')
    expect(await coalescer.takeDue()).toEqual([])
    const taken = await until(() => coalescer.takeDue(), (t) => t.length > 0, 'the due wallet')
    expect(taken).toEqual(['conn-1'])
  })

  it('needs no trailing notification when nothing came after the first', async () => {
    const coalescer = new PushCoalescer(redis, space.prefix, 100)
    expect(await coalescer.claim('conn-1')).toBe('send')
    await until(() => coalescer.claim('conn-1'), (r) => r === 'send', 'the next window')
    expect(await coalescer.takeDue()).toEqual([])
  })

  it('drops the due mark of a wallet that opened its next window itself', async () => {
    const coalescer = new PushCoalescer(redis, space.prefix, 100)
    await coalescer.claim('conn-1')
    expect(await coalescer.claim('conn-1')).toBe('coalesced')
    // The window ends and a new message opens the next one before any sweep ran.
    await until(() => coalescer.claim('conn-1'), (r) => r === 'send', 'the next window')
    expect(await coalescer.takeDue()).toEqual([])
  })

  it('forgets a wallet and leaves no key behind', async () => {
    const coalescer = new PushCoalescer(redis, space.prefix, 60_000)
    await coalescer.claim('conn-1')
    await coalescer.claim('conn-1')
    await coalescer.forget('conn-1')
    expect(await space.listKeys()).toEqual([])
    expect(await coalescer.claim('conn-1')).toBe('send')
  })
})
