import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Queue } from 'bullmq'
import { INBOUND_QUEUE_NAME } from '@mediator/contracts'
import { connect, envelope, relayFixture, sendFrame, startRedis, stopRedis, unusedPort } from './support.js'
import type { RelayFixture } from './support.js'

const DIDCOMM = { 'content-type': 'application/didcomm-envelope-enc' }

describe('relay when Redis is down', () => {
  let f: RelayFixture
  const privateRedis: ChildProcess[] = []

  beforeAll(async () => {
    f = await relayFixture('relay-redis-down')
  })
  afterAll(async () => {
    await f.cleanup()
    for (const c of privateRedis) if (c.exitCode === null && c.signalCode === null) await stopRedis(c)
  })

  it('answers 503 with Retry-After, fails readiness and closes sockets with 1013 when Redis never answered', async () => {
    const port = await unusedPort()
    const r = await f.start({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      ENQUEUE_TIMEOUT_MS: '200',
      WS_ENQUEUE_RETRY_MS: '300',
      HTTP_ENQUEUE_RETRY_MS: '300',
      RETRY_AFTER_SECONDS: '7',
    })
    const res = await fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Anoncrypt', 'lost?') })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('7')
    expect((await fetch(`${r.addr.internalUrl}/readyz`)).status).toBe(503)
    expect((await fetch(`${r.addr.internalUrl}/healthz`)).status).toBe(200)
    // A socket is taken (nothing to store yet); its first frame cannot be stored.
    const c = await connect(r.wsUrl)
    await sendFrame(c.ws, envelope('Authcrypt', 'unstored'))
    expect((await c.closed).code).toBe(1013)
  })

  it('answers 503 when Redis goes away after start, and 202 again once it is back', async () => {
    const port = await unusedPort()
    let redis = await startRedis(port)
    privateRedis.push(redis)
    // No retry window: the 503 comes at once.
    const r = await f.start({ REDIS_URL: `redis://127.0.0.1:${port}`, ENQUEUE_TIMEOUT_MS: '500', HTTP_ENQUEUE_RETRY_MS: '0' })
    const ok = await fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Anoncrypt', 'before') })
    expect(ok.status).toBe(202)

    await stopRedis(redis)
    const down = await fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Anoncrypt', 'during') })
    expect(down.status).toBe(503)
    expect(down.headers.get('retry-after')).toBe('5')
    expect((await fetch(`${r.addr.internalUrl}/readyz`)).status).toBe(503)

    redis = await startRedis(port)
    privateRedis.push(redis)
    await vi.waitFor(
      async () => {
        const res = await fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Anoncrypt', 'after') })
        expect(res.status).toBe(202)
      },
      { timeout: 15_000, interval: 200 },
    )
    expect((await fetch(`${r.addr.internalUrl}/readyz`)).status).toBe(200)
  })

  it('holds a POST while Redis is briefly away, and stores it once when Redis is back', async () => {
    const port = await unusedPort()
    let redis = await startRedis(port)
    privateRedis.push(redis)
    const r = await f.start({ REDIS_URL: `redis://127.0.0.1:${port}`, ENQUEUE_TIMEOUT_MS: '300', HTTP_ENQUEUE_RETRY_MS: '10000' })
    await stopRedis(redis)
    const body = envelope('Anoncrypt', 'failover')
    const answer = fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body })
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    redis = await startRedis(port)
    privateRedis.push(redis)
    expect((await answer).status).toBe(202)
    const reader = new Queue(INBOUND_QUEUE_NAME, { connection: { host: '127.0.0.1', port }, prefix: f.keys.bullPrefix })
    try {
      const stored = (await reader.getJobs(['waiting'])).filter((j) => (j.data as { payload?: string }).payload === body)
      expect(stored).toHaveLength(1)
    } finally {
      await reader.close()
    }
  })
})
