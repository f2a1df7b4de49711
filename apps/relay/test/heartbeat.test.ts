import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { HeartbeatSweep } from '../src/heartbeat.js'
import {
  connect,
  envelope,
  frozenRedisRelayFixture,
  metricValue,
  pendingAdds,
  relayFixture,
  sendFrame,
  type FrozenRedisRelay,
  type RelayFixture,
  type TestRelay,
} from './support.js'

const terminations = (r: TestRelay) => metricValue(r, /^relay_heartbeat_terminations_total\{[^}]*\} (\S+)$/m)

/**
 * A socket waits, paused, while its frame's job add is in flight, and a paused socket reads nothing:
 * not its wallet's pong either. The heartbeat took such a socket for silent and terminated it when an
 * add outlasted a sweep (Redis starved in a reconnect storm), so a wallet that answered every ping lost
 * its socket for the relay's slowness.
 */
describe('the heartbeat and a socket waiting on a slow job add', () => {
  let f: FrozenRedisRelay

  beforeAll(async () => {
    f = await frozenRedisRelayFixture('relay-heartbeat-paused')
  })
  afterAll(async () => {
    await f.cleanup()
  })

  it('keeps the waiting socket over many sweeps, and still terminates a peer that is really silent', async () => {
    const r = await f.start({ HEARTBEAT_INTERVAL_MS: '200' })
    const waiting = await connect(r.wsUrl)
    const silent = await connect(r.wsUrl, { autoPong: false })

    f.freeze()
    await sendFrame(waiting.ws, envelope('Authcrypt', 'waits-on-redis'))
    await expect.poll(() => pendingAdds(r), { timeout: 5_000 }).toBe(1)

    // The sweeps go on meanwhile: the silent peer, which waits on nothing, is cut after two of them.
    expect((await silent.closed).code).toBe(1006)
    expect(await terminations(r)).toBe(1)
    // Ten sweeps with the add still in flight.
    await sleep(2_000)
    expect(await pendingAdds(r)).toBe(1)
    expect(waiting.ws.readyState).toBe(WebSocket.OPEN)

    f.thaw()
    await expect.poll(() => pendingAdds(r), { timeout: 10_000 }).toBe(0)
    // Read again, its pongs keep it through the sweeps that follow.
    await sleep(1_000)
    expect(waiting.ws.readyState).toBe(WebSocket.OPEN)
    expect(await terminations(r)).toBe(1)
    waiting.ws.close()
  })
})

describe('HeartbeatSweep', () => {
  const swept = (intervalMs: number, slices: number) => {
    let now = 0
    const seen: number[] = []
    const sweep = new HeartbeatSweep({ intervalMs, slices, sweep: (slice) => seen.push(slice), now: () => now })
    return { sweep, seen, at: (ms: number) => void (now = ms) }
  }

  it('sweeps one slice per turn, in order, round after round', () => {
    const h = swept(1_000, 4)
    h.sweep.start()
    h.sweep.stop()
    for (let t = 250; t <= 2_000; t += 250) {
      h.at(t)
      h.sweep.tick()
    }
    expect(h.seen).toEqual([1, 2, 3, 0, 1, 2, 3, 0])
    // A second tick within the same turn sweeps nothing more.
    h.sweep.tick()
    expect(h.seen).toHaveLength(8)
  })

  it('sweeps every slice a late tick missed, each once, even after more than a round', () => {
    const h = swept(1_000, 4)
    h.sweep.start()
    h.sweep.stop()
    h.at(600)
    h.sweep.tick()
    expect(h.seen).toEqual([1, 2])
    h.at(5_100)
    h.sweep.tick()
    expect(h.seen.slice(2).sort()).toEqual([0, 1, 2, 3])
  })
})

/**
 * Every socket was pinged in one sweep: 16,700 pings per relay at the same instant (and relays started
 * together swept together), answered all at once through the balancer, and forwards caught in that
 * burst waited seconds. Pings are spread over the interval now.
 */
describe('the heartbeat spreads its pings over the interval', () => {
  let f: RelayFixture

  beforeAll(async () => {
    f = await relayFixture('relay-heartbeat-spread')
  })
  afterAll(async () => {
    await f.cleanup()
  })

  it('pings each socket once per interval, at different times, and keeps those that answer', async () => {
    const r = await f.start({ HEARTBEAT_INTERVAL_MS: '3000' })
    const clients = await Promise.all(Array.from({ length: 30 }, () => connect(r.wsUrl)))
    const pings = clients.map(() => [] as number[])
    clients.forEach((c, i) => c.ws.on('ping', () => pings[i]?.push(Date.now())))
    await sleep(6_500)
    // Each was pinged every 3 s: twice in 6.5 s (once more at most, by where its turn fell).
    for (const times of pings) expect(times.length).toBeGreaterThanOrEqual(2)
    for (const times of pings) expect(times.length).toBeLessThanOrEqual(3)
    // One sweep for all would have pinged the 30 within a few milliseconds of each other.
    const firsts = pings.map((times) => times[0] as number)
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(1_500)
    expect(clients.every((c) => c.ws.readyState === WebSocket.OPEN)).toBe(true)
    expect(await terminations(r)).toBe(0)
    for (const c of clients) c.ws.close()
  })
})
