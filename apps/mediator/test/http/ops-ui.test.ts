import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Queue, UnrecoverableError, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import { createTestRedisPrefix, type TestRedisPrefix } from '@mediator/test-support'
import { buildOpsServer } from '../../src/http/ops-server.js'
import { MediatorMetrics } from '../../src/metrics.js'
import type { OpsUiAuth } from '../../src/http/ops-ui.js'

const auth: OpsUiAuth = { user: 'operator', password: 'correct horse battery staple', token: 't0ken-'.repeat(6) }
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

describe('the queue UI on the ops port', () => {
  let redis: TestRedisPrefix
  let connection: Redis
  let queue: Queue
  const apps: FastifyInstance[] = []
  const failedId = randomUUID()

  const opsServer = (uiAuth?: OpsUiAuth) => {
    const app = buildOpsServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new MediatorMetrics(),
      checkReady: async () => undefined,
      refreshGauges: async () => undefined,
      invitation: () => undefined,
      ...(uiAuth ? { ui: { queues: [queue], auth: uiAuth } } : {}),
    })
    apps.push(app)
    return app
  }

  beforeAll(async () => {
    redis = await createTestRedisPrefix('ops_ui')
    const keys = new RedisKeys(redis.prefix)
    connection = new Redis(redis.redisUrl, { maxRetriesPerRequest: null })
    queue = new Queue(INBOUND_QUEUE_NAME, { connection, prefix: keys.bullPrefix })
    // One dead letter, failed by a BullMQ worker the way a mediator worker fails what it cannot process.
    const worker = new Worker(
      INBOUND_QUEUE_NAME,
      async () => {
        throw new UnrecoverableError('No corresponding recipient key found')
      },
      { connection: connection.duplicate(), prefix: keys.bullPrefix },
    )
    const failed = new Promise<void>((resolve) => worker.once('failed', () => resolve()))
    await queue.add('message', { kind: 'message' }, { jobId: failedId })
    await failed
    await worker.close()
  })
  afterAll(async () => {
    for (const app of apps) await app.close()
    await queue?.close()
    connection?.disconnect()
    await redis?.cleanup()
  })

  it('refuses requests without the right credentials with 401, on the page and on its API', async () => {
    const app = opsServer(auth)
    for (const url of ['/ui', '/ui/api/queues']) {
      const none = await app.inject({ url })
      expect(none.statusCode, url).toBe(401)
      expect(none.headers['www-authenticate'], url).toMatch(/^Basic realm=/)
      expect(none.body, url).not.toContain(failedId)
    }
    const wrong = [basic('operator', 'wrong password!'), basic('root', auth.password ?? ''), 'Bearer not-the-token', `Bearer ${auth.token}x`, 'Basic !!!']
    for (const authorization of wrong) {
      expect((await app.inject({ url: '/ui/api/queues', headers: { authorization } })).statusCode, authorization).toBe(401)
    }
    // The rest of the ops port stays as it was.
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200)
  })

  it('serves the UI and its API with Basic auth or the bearer token, showing the failed job', async () => {
    const app = opsServer(auth)
    const page = await app.inject({ url: '/ui', headers: { authorization: basic('operator', auth.password ?? '') } })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toMatch(/text\/html/)
    expect(page.body).toContain('<base href="/ui/"')
    expect(page.body).toContain('Mediator queues')
    // Its scripts are behind the same credentials.
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.body)?.[1]
    expect(script).toBeDefined()
    expect((await app.inject({ url: `/ui/${script}`, headers: { authorization: basic('operator', auth.password ?? '') } })).statusCode).toBe(200)
    expect((await app.inject({ url: `/ui/${script}` })).statusCode).toBe(401)
    for (const authorization of [basic('operator', auth.password ?? ''), `Bearer ${auth.token}`]) {
      const api = await app.inject({
        url: `/ui/api/queues?activeQueue=${INBOUND_QUEUE_NAME}&status=failed&page=1&jobsPerPage=10`,
        headers: { authorization },
      })
      expect(api.statusCode, authorization).toBe(200)
      const body = api.json<{ queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string; failedReason: string }> }> }>()
      const inbound = body.queues.find((q) => q.name === INBOUND_QUEUE_NAME)
      expect(inbound?.counts.failed).toBe(1)
      expect(inbound?.jobs).toEqual([expect.objectContaining({ id: failedId, failedReason: 'No corresponding recipient key found' })])
    }
  })

  it('is not there at all when no password or token is configured', async () => {
    const app = opsServer()
    expect((await app.inject({ url: '/ui' })).statusCode).toBe(404)
    expect((await app.inject({ url: '/ui/api/queues' })).statusCode).toBe(404)
    const tokenOnly = opsServer({ user: 'operator', token: auth.token ?? '' })
    const refused = await tokenOnly.inject({ url: '/ui' })
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['www-authenticate']).toBeUndefined()
  })
})
