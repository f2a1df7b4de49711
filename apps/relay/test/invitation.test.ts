import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { relayFixture } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

describe('GET /invitation on the public port', () => {
  let f: RelayFixture
  let r: TestRelay
  let redis: Redis

  beforeAll(async () => {
    f = await relayFixture('relay-invitation')
    r = await f.start()
    redis = new Redis(f.t.redisUrl)
  })
  afterAll(async () => {
    redis.disconnect()
    await f.cleanup()
  })

  it('answers 503 with a problem until a worker has published the invitation', async () => {
    const res = await fetch(new URL('/invitation', r.httpUrl))
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
  })

  it('serves the published invitation as JSON and as a URL', async () => {
    const published = { url: 'https://mediator.example?oob=abc', invitation: { '@type': 'https://didcomm.org/out-of-band/1.1/invitation' } }
    await redis.set(f.keys.invitation, JSON.stringify(published))
    // Only a found invitation is cached, so the earlier miss does not delay this.
    const res = await fetch(new URL('/invitation', r.httpUrl))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(published)
    const asUrl = await fetch(new URL('/invitation?format=url', r.httpUrl))
    expect(await asUrl.text()).toBe(published.url)
  })
})
