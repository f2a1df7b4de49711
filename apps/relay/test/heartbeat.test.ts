import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { connect, envelope, frozenRedisRelayFixture, metricValue, pendingAdds, sendFrame, type FrozenRedisRelay, type TestRelay } from './support.js'

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
