import { describe, expect, it } from 'vitest'
import { TaggedExpiringCache } from '../../src/cache/tagged-expiring-cache.js'

describe('TaggedExpiringCache', () => {
  const make = (maxEntries = 3) => {
    let now = 1_000
    const cache = new TaggedExpiringCache<string>({ ttlMs: 100, maxEntries, now: () => now })
    return { cache, advance: (ms: number) => (now += ms) }
  }

  it('expires entries after the TTL', () => {
    const { cache, advance } = make()
    cache.set('a', 'A', [], cache.generation)
    advance(99)
    expect(cache.get('a')).toBe('A')
    advance(1)
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('evicts the oldest entry when full', () => {
    const { cache } = make(2)
    cache.set('a', 'A', ['t'], cache.generation)
    cache.set('b', 'B', ['t'], cache.generation)
    cache.set('c', 'C', ['t'], cache.generation)
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 'B', 'C'])
  })

  it('drops every entry of a tag, and only those', () => {
    const { cache } = make(10)
    cache.set('a', 'A', ['conn-1', 'did-x'], cache.generation)
    cache.set('b', 'B', ['conn-1'], cache.generation)
    cache.set('c', 'C', ['conn-2', 'did-x'], cache.generation)
    cache.invalidateTag('conn-1')
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, undefined, 'C'])
    cache.invalidateTag('did-x')
    expect(cache.size).toBe(0)
  })

  it('does not store a lookup that raced with an invalidation, but returns it', async () => {
    const { cache } = make()
    let release!: () => void
    const slow = cache.getOrLoad(
      'a',
      () => new Promise<string>((resolve) => (release = () => resolve('stale'))),
      () => ['conn-1'],
    )
    cache.invalidateTag('conn-1')
    release()
    expect(await slow).toBe('stale')
    expect(cache.get('a')).toBeUndefined()
    expect(await cache.getOrLoad('a', async () => 'fresh', () => ['conn-1'])).toBe('fresh')
    expect(cache.get('a')).toBe('fresh')
  })

  it('never stores a lookup that found nothing', async () => {
    const { cache } = make()
    let calls = 0
    const load = async () => {
      calls++
      return undefined
    }
    await cache.getOrLoad('a', load, () => [])
    await cache.getOrLoad('a', load, () => [])
    expect(calls).toBe(2)
  })
})
