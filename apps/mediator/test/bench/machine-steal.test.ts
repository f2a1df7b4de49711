import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readCpuTicks, stealPercent } from '../../bench/cluster/machine-steal.js'

describe('CPU time stolen by the hypervisor (cluster benchmark report)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'steal-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const stat = (line: string) => {
    const path = join(dir, `stat-${Math.random()}`)
    writeFileSync(path, `${line}\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 12345\n`)
    return path
  }

  it('reads the aggregate line, guest time not counted twice', () => {
    expect(readCpuTicks(stat('cpu  100 0 50 800 10 0 5 35 70 0'))).toEqual({ total: 1000, steal: 35 })
  })

  it('gives the stolen share between two readings', () => {
    const start = readCpuTicks(stat('cpu  100 0 50 800 10 0 5 35 0 0'))
    const end = readCpuTicks(stat('cpu  400 0 150 1300 10 0 5 135 0 0'))
    expect(stealPercent(start, end)).toBe(10)
  })

  it('says nothing where it cannot tell', () => {
    expect(readCpuTicks(join(dir, 'absent'))).toBeUndefined()
    expect(readCpuTicks(stat('cpu  1 2 3'))).toBeUndefined()
    const same = readCpuTicks(stat('cpu  1 2 3 4 5 6 7 8 0 0'))
    expect(stealPercent(same, same)).toBeUndefined()
    expect(stealPercent(undefined, same)).toBeUndefined()
  })
})
