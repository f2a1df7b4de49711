import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { PeriodicTask } from '../../src/pickup/periodic-task.js'

describe('PeriodicTask', () => {
  it('skips a pass while one is running, and reports a failed pass instead of throwing', async () => {
    const warnings: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg as string) })
    let release!: () => void
    let calls = 0
    const task = new PeriodicTask(
      'test sweep',
      async () => {
        calls++
        if (calls === 1) await new Promise<void>((resolve) => (release = resolve))
        if (calls === 2) throw new Error('redis down')
        return calls
      },
      logger,
    )
    const first = task.runOnce()
    expect(await task.runOnce()).toBeUndefined()
    release()
    expect(await first).toBe(1)
    expect(calls).toBe(1)
    expect(await task.runOnce()).toBeUndefined()
    expect(warnings).toEqual(['test sweep failed'])
    expect(await task.runOnce()).toBe(3)
  })
})
