import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { loadRelayConfig } from '../src/config.js'
import { defaultMaxSockets, NON_SOCKET_FILES } from '../src/socket-capacity.js'
import {
  connect,
  envelope,
  metricValue,
  pendingAdds,
  relayEnv,
  relayFixture,
  sendFrame,
  frozenRedisRelayFixture,
  type FrozenRedisRelay,
  type RelayFixture,
  type TestRelay,
} from './support.js'

/** The upgrade's answer when the relay refuses it: status and Retry-After. */
function refusedUpgrade(url: string): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] })
      ws.terminate()
    })
    ws.once('open', () => reject(new Error('upgrade accepted')))
    ws.once('error', () => undefined)
  })
}

const rejections = (r: TestRelay, reason: string): Promise<number> =>
  metricValue(r, new RegExp(`^relay_messages_rejected_total\\{[^}]*reason="${reason}"[^}]*\\} (\\S+)$`, 'm'))
const fullRejections = (r: TestRelay) => rejections(r, 'full')
const busyRejections = (r: TestRelay) => rejections(r, 'busy')

/**
 * A relay that accepts more sockets than it has open files fails everything that needs a file, for the
 * wallets it already holds too (seen in the cluster benchmark: 30,000 wallets on one relay whose process
 * may open 20,000 files). It refuses the next wallet instead, which the balancer sends elsewhere.
 */
describe('a relay at MAX_SOCKETS', () => {
  let f: RelayFixture
  let r: TestRelay

  beforeAll(async () => {
    f = await relayFixture('relay-capacity')
    r = await f.start({ MAX_SOCKETS: '2', RETRY_AFTER_SECONDS: '3' })
  })
  afterAll(async () => {
    await f.cleanup()
  })

  it('refuses the next upgrade with 503 and Retry-After, leaves the sockets it holds, and is not ready', async () => {
    const held = [await connect(r.wsUrl), await connect(r.wsUrl)]
    expect(await refusedUpgrade(r.wsUrl)).toEqual({ status: 503, retryAfter: '3' })
    expect(await fullRejections(r)).toBe(1)
    expect((await r.internal('/readyz')).status).toBe(503)
    for (const c of held) expect(c.ws.readyState).toBe(WebSocket.OPEN)

    // One closes: the relay takes a wallet again, and is ready again.
    held[0]?.ws.close()
    await held[0]?.closed
    await expect.poll(async () => (await r.internal('/readyz')).status, { timeout: 5_000 }).toBe(200)
    const next = await connect(r.wsUrl)
    expect(next.ws.readyState).toBe(WebSocket.OPEN)
    for (const c of [held[1], next]) c?.ws.close()
  })
})

describe('the default MAX_SOCKETS', () => {
  const limits = (soft: string) =>
    `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                20000                files\n`

  it('keeps files free below the open-file limit', () => {
    expect(defaultMaxSockets(limits('20000'))).toBe(20_000 - NON_SOCKET_FILES)
    expect(defaultMaxSockets(limits('500'))).toBe(1)
  })

  it('sets no limit where the limit is unlimited or unknown', () => {
    expect(defaultMaxSockets(limits('unlimited'))).toBeUndefined()
    expect(defaultMaxSockets('')).toBeUndefined()
  })

  it('is what the configuration reads when MAX_SOCKETS is unset, and MAX_SOCKETS wins when set', () => {
    expect(loadRelayConfig(relayEnv('p', 'redis://127.0.0.1:6379')).maxSockets).toBe(defaultMaxSockets())
    expect(loadRelayConfig(relayEnv('p', 'redis://127.0.0.1:6379', { MAX_SOCKETS: '7' })).maxSockets).toBe(7)
    expect(() => loadRelayConfig(relayEnv('p', 'redis://127.0.0.1:6379', { MAX_SOCKETS: '0' }))).toThrow(/MAX_SOCKETS/)
  })
})

/**
 * A relay whose job adds are slow (Redis starved in a reconnect storm) took every socket and closed
 * those whose adds outlasted WS_ENQUEUE_RETRY_MS with 1013, and their wallets came back with two more
 * jobs each: the storm fed itself (cluster benchmark, 20,000 wallets on two cores). It refuses new
 * sockets while MAX_PENDING_ADDS sockets wait on an add.
 */
describe('a relay with MAX_PENDING_ADDS sockets waiting on Redis', () => {
  let f: FrozenRedisRelay

  beforeAll(async () => {
    f = await frozenRedisRelayFixture('relay-busy')
  })
  afterAll(async () => {
    await f.cleanup()
  })

  it('refuses upgrades with 503 until the adds in flight are done', async () => {
    const r = await f.start({ MAX_PENDING_ADDS: '2', RETRY_AFTER_SECONDS: '2' })
    // Redis stops answering: every add now waits.
    f.freeze()
    const waiting = [await connect(r.wsUrl), await connect(r.wsUrl)]
    // Each wallet's first frame (its live-mode request) now waits on its add.
    for (const [i, c] of waiting.entries()) await sendFrame(c.ws, envelope('Authcrypt', `waiting-${i}`))
    await expect.poll(() => pendingAdds(r), { timeout: 5_000 }).toBe(2)
    expect(await refusedUpgrade(r.wsUrl)).toEqual({ status: 503, retryAfter: '2' })
    expect(await busyRejections(r)).toBe(1)
    for (const c of waiting) expect(c.ws.readyState).toBe(WebSocket.OPEN)

    f.thaw()
    await expect
      .poll(async () => {
        const c = await connect(r.wsUrl).catch(() => undefined)
        c?.ws.close()
        return c !== undefined
      }, { timeout: 10_000, interval: 200 })
      .toBe(true)
    for (const c of waiting) expect(c.ws.readyState).toBe(WebSocket.OPEN)
    for (const c of waiting) c.ws.close()
  })
})
