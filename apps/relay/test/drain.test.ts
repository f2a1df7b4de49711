import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { Redis } from 'ioredis'
import { RelayRegistry } from '@mediator/redis'
import { connect, envelope, relayFixture, sendFrame } from './support.js'
import type { RelayFixture } from './support.js'

describe('relay drain', () => {
  let f: RelayFixture

  beforeAll(async () => {
    f = await relayFixture('relay-drain')
  })
  afterAll(async () => f.cleanup())

  it('fails readiness, refuses new sockets, closes open ones with 1001, reports them, answers held requests, withdraws', async () => {
    const r = await f.start({ DRAIN_TIMEOUT_MS: '1500', RETURN_ROUTE_TIMEOUT_MS: '30000', REGISTRY_HEARTBEAT_MS: '200' })
    const redis = new Redis(f.t.redisUrl)
    const registry = new RelayRegistry(redis, f.keys)
    expect(await registry.isAlive(r.relay.relayId)).toBe(true)

    const clients = await Promise.all([connect(r.wsUrl), connect(r.wsUrl), connect(r.wsUrl)])
    // Each beat carries the sockets the relay holds, for operators.
    for (let beats = 0; (await registry.get(r.relay.relayId))?.sockets !== 3; beats++) {
      if (beats > 100) throw new Error(`the announcement never said 3 sockets: ${JSON.stringify(await registry.get(r.relay.relayId))}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    for (const [i, c] of clients.entries()) await sendFrame(c.ws, envelope('Anoncrypt', `drain-${i}`))
    const ids = (await f.waitForJobs((j) => j.kind === 'message', 3)).map((j) => j.socketId)
    const held = fetch(r.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/didcomm-envelope-enc' },
      body: envelope('Authcrypt', 'held-during-drain'),
    })
    await f.waitForJobs((j) => j.kind === 'message' && j.replyExpected)

    const drained = r.relay.drain()
    expect(r.relay.draining).toBe(true)
    expect((await fetch(`${r.addr.internalUrl}/readyz`)).status).toBe(503)
    await expect(connect(r.wsUrl)).rejects.toThrow(/503/)

    for (const c of clients) expect((await c.closed).code).toBe(1001)
    const heldRes = await held
    expect(heldRes.status).toBe(202)
    await drained

    const closedJobs = await f.waitForJobs((j) => j.kind === 'socket-closed' && ids.includes(j.socketId), 3)
    expect(closedJobs.map((j) => (j.kind === 'socket-closed' ? j.code : 0))).toEqual([1001, 1001, 1001])
    expect(await registry.isAlive(r.relay.relayId)).toBe(false)
    expect(await registry.get(r.relay.relayId)).toBeNull()
    expect(clients.every((c) => c.ws.readyState === WebSocket.CLOSED)).toBe(true)
    await r.relay.close()
    redis.disconnect()
  })
})
