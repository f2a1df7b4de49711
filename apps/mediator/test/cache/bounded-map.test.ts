import { describe, expect, it } from 'vitest'
import { BoundedMap } from '../../src/cache/bounded-map.js'

describe('BoundedMap', () => {
  it('drops the oldest insertion when full, and an update does not evict', () => {
    const map = new BoundedMap<string, number>(2)
    map.set('a', 1)
    map.set('b', 2)
    map.set('b', 3)
    expect(map.size).toBe(2)
    expect(map.get('a')).toBe(1)
    map.set('c', 4)
    expect(map.get('a')).toBeUndefined()
    expect([map.get('b'), map.get('c'), map.size]).toEqual([3, 4, 2])
  })

  it('refuses a size that holds nothing', () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError)
  })
})
