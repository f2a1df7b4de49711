import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { Redis } from 'ioredis'
import { connect, envelope, relayFixture, sendFrame } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

const lapses = async (r: TestRelay): Promise<number> => {
  const text = await (await r.internal('/metrics')).text()
  const match = /^relay_registry_lapses_total\{relay_id="[^"]+"\} (\S+)$/m.exec(text)
  return match ? Number(match[1]) : 0
}

const beatAt = async (redis: Redis, key: string): Promise<number> => Number((await redis.get(key)) ?? 0)

/**
 * A relay paused or starved for longer than its heartbeat's TTL (a VM snapshot, CPU throttling), that
 * then did not answer the workers' probe either, is taken for dead: they drop its sockets' live
 * sessions while its sockets stay open, so wallets would get nothing live until they happened to
 * register again. Seen in the cluster benchmark: after a pause of the whole machine, 40,000 of 60,000
 * live sessions were gone from the directory while every socket was still connected. A beat that is
 * only late must not close anything: in a reconnect storm that spread the storm to the survivors.
 */
describe('a relay whose registration lapsed', () => {
  let f: RelayFixture
  let r: TestRelay
  let redis: Redis

  beforeAll(async () => {
    f = await relayFixture('relay-lapse')
    r = await f.start({ REGISTRY_HEARTBEAT_MS: '200' })
    redis = new Redis(f.t.redisUrl)
  })
  afterAll(async () => {
    redis.disconnect()
    await f.cleanup()
  })

  it('keeps its sockets when a beat was only late (its heartbeat expired, nobody took it for dead)', async () => {
    const client = await connect(r.wsUrl)
    const key = f.keys.relayHeartbeat(r.relay.relayId)
    await redis.del(key)
    // The next beats find the announcement where it was: nothing lapsed.
    await expect.poll(async () => redis.exists(key), { timeout: 5_000 }).toBe(1)
    const first = await beatAt(redis, key)
    await expect.poll(async () => (await beatAt(redis, key)) - first, { timeout: 5_000 }).toBeGreaterThanOrEqual(400)
    expect(client.ws.readyState).toBe(WebSocket.OPEN)
    expect(await lapses(r)).toBe(0)
    client.ws.close()
    await client.closed
  })

  it('keeps its sockets while its beats find the registration alive', async () => {
    const client = await connect(r.wsUrl)
    const key = f.keys.relayHeartbeat(r.relay.relayId)
    const first = await beatAt(redis, key)
    // Three more beats.
    await expect.poll(async () => (await beatAt(redis, key)) - first, { timeout: 5_000 }).toBeGreaterThanOrEqual(600)
    expect(client.ws.readyState).toBe(WebSocket.OPEN)
    expect(await lapses(r)).toBe(0)
    client.ws.close()
    await client.closed
  })

  it('closes every socket with 1012 at its next beat, so wallets reconnect and register again', async () => {
    const clients = await Promise.all([connect(r.wsUrl), connect(r.wsUrl)])
    // Each wallet speaks first (its live-mode request), as a wallet whose session workers hold does.
    await Promise.all(clients.map((c, i) => sendFrame(c.ws, envelope('Authcrypt', `lapse-${i}`))))
    const spoken = new Set([0, 1].map((i) => envelope('Authcrypt', `lapse-${i}`)))
    const ids = await f.waitForJobs((j) => j.kind === 'message' && spoken.has(j.payload), 2)
    // What workers do to a relay that missed its beats and did not answer their probe: they prune its
    // announcement (then drop its sessions).
    await redis.hdel(f.keys.relays, r.relay.relayId)
    for (const c of clients) expect(await c.closed).toEqual({ code: 1012, reason: 'relay registration lapsed; reconnect' })
    expect(await lapses(r)).toBe(1)
    // Workers hear of the closes as of any other, and clean up whatever sessions are left.
    const socketIds = ids.map((j) => j.socketId)
    const closed = await f.waitForJobs((j) => j.kind === 'socket-closed' && socketIds.includes(j.socketId), 2)
    expect(closed.map((j) => (j.kind === 'socket-closed' ? j.code : 0))).toEqual([1012, 1012])
    // The relay is registered again and takes new sockets.
    expect(await redis.hexists(f.keys.relays, r.relay.relayId)).toBe(1)
    const again = await connect(r.wsUrl)
    expect(again.ws.readyState).toBe(WebSocket.OPEN)
    again.ws.close()
  })
})
