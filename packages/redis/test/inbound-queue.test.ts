import { Backoffs, Queue } from 'bullmq'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INBOUND_JOB_VERSION, INBOUND_QUEUE_NAME, RedisKeys, inboundJobSchema } from '@mediator/contracts'
import type { InboundMessageJob } from '@mediator/contracts'
import { createTestRedisPrefix, freePort as unusedPort } from '@mediator/test-support'
import type { TestRedisPrefix } from '@mediator/test-support'
import { createFailFastRedis, InboundQueue, InboundQueueUnavailableError, socketEventJobId } from '../src/index.js'
import type { Redis } from 'ioredis'

describe('InboundQueue', () => {
  let t: TestRedisPrefix
  let keys: RedisKeys
  let redis: Redis
  let inbound: InboundQueue
  let reader: Queue

  beforeAll(async () => {
    t = await createTestRedisPrefix('inbound-queue')
    keys = new RedisKeys(t.prefix)
    redis = createFailFastRedis(t.redisUrl)
    inbound = new InboundQueue({ connection: redis, keys, attempts: 7, backoffMs: 250 })
    reader = new Queue(INBOUND_QUEUE_NAME, { connection: { url: t.redisUrl }, prefix: keys.bullPrefix })
  })

  afterAll(async () => {
    await inbound.close()
    await reader.close()
    redis.disconnect()
    await t.cleanup()
  })

  const message: InboundMessageJob = {
    v: INBOUND_JOB_VERSION,
    kind: 'message',
    relayId: 'relay-a',
    socketId: 'sock-1',
    transport: 'ws' as const,
    messageId: 'msg-1',
    receivedAt: 1_700_000_000_000,
    payload: '{"protected":"x"}',
    replyExpected: false,
    headers: { 'x-forwarded-for': '10.0.0.1' },
  }

  it('stores a message as one job named after its kind, with the message id as job id', async () => {
    await inbound.addMessage(message)
    const job = await reader.getJob('msg-1')
    expect(job?.name).toBe('message')
    expect(inboundJobSchema.parse(job?.data)).toEqual(message)
    expect(job?.opts.attempts).toBe(7)
    expect(job?.opts.backoff).toEqual({ type: 'exponential', delay: 250 })
  })

  it('makes a retried add of the same message a no-op', async () => {
    await inbound.addMessage({ ...message, messageId: 'msg-2' })
    await inbound.addMessage({ ...message, messageId: 'msg-2', payload: 'changed' })
    const job = await reader.getJob('msg-2')
    expect(job?.data.payload).toBe(message.payload)
    const ids = (await reader.getJobs(['waiting'])).map((j) => j.id)
    expect(ids.filter((id) => id === 'msg-2')).toHaveLength(1)
  })

  it('stores a socket close under an id derived from the socket id', async () => {
    const ref = { v: INBOUND_JOB_VERSION as typeof INBOUND_JOB_VERSION, relayId: 'relay-a', socketId: 'sock-9', transport: 'ws' as const }
    await inbound.addSocketClosed({ ...ref, kind: 'socket-closed', at: 2, code: 1001, reason: 'going away' })
    await inbound.addSocketClosed({ ...ref, kind: 'socket-closed', at: 3, code: 1001, reason: 'retried add' })
    const closed = await reader.getJob(socketEventJobId('sock-9', 'closed'))
    expect(closed?.data).toMatchObject({ kind: 'socket-closed', code: 1001, reason: 'going away' })
  })

  it('refuses a payload that breaks the contract', async () => {
    await expect(inbound.addMessage({ ...message, messageId: '' })).rejects.toThrow()
    await expect(reader.getJob('')).resolves.toBeUndefined()
  })

  it('fails fast with InboundQueueUnavailableError when Redis does not answer', async () => {
    const port = await unusedPort()
    const dead = createFailFastRedis(`redis://127.0.0.1:${port}`)
    const q = new InboundQueue({ connection: dead, keys, addTimeoutMs: 300 })
    try {
      await expect(q.addMessage({ ...message, messageId: 'never' })).rejects.toBeInstanceOf(InboundQueueUnavailableError)
    } finally {
      dead.disconnect()
      await q.close().catch(() => undefined)
    }
    expect(await reader.getJob('never')).toBeUndefined()
  })

  // A Postgres restart or failover takes tens of seconds; the cluster benchmark's chaos scenario stops
  // Postgres for 20 s. Every retry of a job failing on it in that time must not use up its attempts:
  // with 5 attempts from 1 s (15 s of backoff in all), acknowledged forwards went to the dead letters.
  it('keeps retrying a job with the default policy for longer than a database outage lasts', async () => {
    const defaults = new InboundQueue({ connection: redis, keys })
    try {
      await defaults.addMessage({ ...message, messageId: 'msg-defaults' })
      const job = await reader.getJob('msg-defaults')
      if (!job) throw new Error('job not stored')
      const attempts = job.opts.attempts ?? 1
      const backoff = Backoffs.normalize(job.opts.backoff ?? 0)
      if (!backoff) throw new Error('job stored without a backoff')
      let waited = 0
      for (let made = 1; made < attempts; made++) {
        const delay = await Backoffs.calculate(backoff, made, new Error('connect ECONNREFUSED'), job)
        waited += typeof delay === 'number' ? delay : 0
      }
      expect(waited).toBeGreaterThanOrEqual(5 * 60_000)
    } finally {
      await defaults.close()
    }
  })
})
