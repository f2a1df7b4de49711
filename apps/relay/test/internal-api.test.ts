import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { internalApiPaths } from '@mediator/contracts'
import { connect, envelope, relayFixture, sendFrame } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

describe('relay internal API', () => {
  let f: RelayFixture
  let r: TestRelay

  beforeAll(async () => {
    f = await relayFixture('relay-internal')
    r = await f.start()
  })
  afterAll(async () => f.cleanup())

  it('refuses calls without the right secret, and does nothing for them', async () => {
    const c = await connect(r.wsUrl)
    await sendFrame(c.ws, envelope('Anoncrypt', 'auth'))
    const [job] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'auth'))
    const url = `${r.addr.internalUrl}${internalApiPaths.send(job!.socketId)}`
    const bad: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-secret-0123456789' },
      { authorization: 'test-secret-0123456789' },
      { authorization: 'Bearer ' },
    ]
    for (const headers of bad) {
      const res = await fetch(url, { method: 'POST', headers, body: 'must-not-arrive' })
      expect(res.status).toBe(401)
    }
    const disc = await fetch(`${r.addr.internalUrl}${internalApiPaths.disconnect(job!.socketId)}`, { method: 'POST' })
    expect(disc.status).toBe(401)
    expect((await fetch(`${r.addr.internalUrl}/metrics`)).status).toBe(401)

    const next = c.nextMessage()
    const ok = await r.internal(internalApiPaths.send(job!.socketId), { method: 'POST', body: 'first-real' })
    expect(ok.status).toBe(200)
    expect(await next).toBe('first-real')
    expect(c.received).toEqual(['first-real'])
    c.ws.close()
  })

  it('serves health and readiness without a secret', async () => {
    const health = await fetch(`${r.addr.internalUrl}/healthz`)
    expect(health.status).toBe(200)
    // Named, so a worker probing this address knows which relay answers.
    expect(await health.json()).toEqual({ status: 'ok', relayId: r.relay.relayId })
    const ready = await fetch(`${r.addr.internalUrl}/readyz`)
    expect(ready.status).toBe(200)
  })

  it('exposes metrics and the relay memory behind the secret', async () => {
    const metrics = await (await r.internal('/metrics')).text()
    expect(metrics).toMatch(/relay_open_sockets\{relay_id="[^"]+"\} \d+/)
    const mem = (await (await r.internal('/debug/memory')).json()) as { rss: number; openSockets: number }
    expect(mem.rss).toBeGreaterThan(0)
    expect(typeof mem.openSockets).toBe('number')
  })

  it('announces itself in the relay registry with its internal URL', async () => {
    const redis = new Redis(f.t.redisUrl)
    try {
      const raw = await redis.hget(f.keys.relays, r.relay.relayId)
      expect(JSON.parse(raw!)).toMatchObject({ relayId: r.relay.relayId, internalUrl: r.addr.internalUrl })
      expect(await redis.exists(f.keys.relayHeartbeat(r.relay.relayId))).toBe(1)
    } finally {
      redis.disconnect()
    }
  })

  it('validates the disconnect body', async () => {
    const c = await connect(r.wsUrl)
    await sendFrame(c.ws, envelope('Anoncrypt', 'disc'))
    const [job] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'disc'))
    const bad = await r.internal(internalApiPaths.disconnect(job!.socketId), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 1006 }),
    })
    expect(bad.status).toBe(400)
    const ok = await r.internal(internalApiPaths.disconnect(job!.socketId), { method: 'POST' })
    expect(ok.status).toBe(200)
    expect((await c.closed).code).toBe(1000)
  })
})
