import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayFixture } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

/** The heartbeat alert reads `time() - relay_registry_heartbeat_timestamp_seconds`. */
const heartbeatSeconds = async (r: TestRelay): Promise<number | undefined> => {
  const text = await (await r.internal('/metrics')).text()
  const match = /^relay_registry_heartbeat_timestamp_seconds\{relay_id="[^"]+"\} (\S+)$/m.exec(text)
  return match ? Number(match[1]) : undefined
}

describe('relay registry heartbeat metric', () => {
  let f: RelayFixture
  let r: TestRelay
  let startedAt: number

  beforeAll(async () => {
    f = await relayFixture('relay-heartbeat-metric')
    startedAt = Date.now() / 1000
    r = await f.start({ REGISTRY_HEARTBEAT_MS: '200' })
  })
  afterAll(async () => f.cleanup())

  it('gives the time of the last registration refresh that reached Redis, and moves with each beat', async () => {
    const first = await heartbeatSeconds(r)
    expect(first).toBeGreaterThanOrEqual(startedAt)
    expect(first).toBeLessThanOrEqual(Date.now() / 1000)
    await expect.poll(() => heartbeatSeconds(r), { timeout: 5_000 }).toBeGreaterThan(first!)
  })
})
