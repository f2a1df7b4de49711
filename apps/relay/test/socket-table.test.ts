import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { SocketTable } from '../src/socket-table.js'

describe('SocketTable', () => {
  it('finds, counts and removes sockets by id, each in exactly one slice', () => {
    const table = new SocketTable<string>(30)
    const ids = Array.from({ length: 3_000 }, () => randomUUID())
    for (const id of ids) table.set(id, `socket ${id}`)
    table.set(ids[0] as string, 'replaced')
    expect(table.size).toBe(3_000)
    expect(table.get(ids[0] as string)).toBe('replaced')
    expect(table.has(ids[1] as string)).toBe(true)

    const perSlice = Array.from({ length: 30 }, (_, k) => [...table.inSlice(k)].length)
    expect(perSlice.reduce((a, b) => a + b, 0)).toBe(3_000)
    // Random ids spread evenly: about 100 a slice, none empty or holding a large share.
    expect(Math.min(...perSlice)).toBeGreaterThan(40)
    expect(Math.max(...perSlice)).toBeLessThan(200)
    expect([...table.values()]).toHaveLength(3_000)

    expect(table.delete(ids[1] as string)).toBe(true)
    expect(table.delete(ids[1] as string)).toBe(false)
    expect(table.has(ids[1] as string)).toBe(false)
    expect(table.size).toBe(2_999)
    expect(() => table.inSlice(30)).toThrow(RangeError)
  })

  it('keeps an id that is not hexadecimal too', () => {
    const table = new SocketTable<number>(4)
    table.set('not-hex', 1)
    expect(table.get('not-hex')).toBe(1)
    expect([...table.inSlice(0)]).toEqual([1])
  })
})
