import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Queue } from 'bullmq'
import { INBOUND_QUEUE_NAME, INBOUND_JOB_VERSION, RedisKeys, type InboundMessageJob } from '@mediator/contracts'
import { createFailFastRedis, InboundAddTimeoutError, InboundQueue } from '@mediator/redis'
import type { Redis } from 'ioredis'
import { addWithRetry, inboundAddInFlight } from '../src/enqueue-retry.js'
import { startRedis, stopRedis, unusedPort } from './support.js'

/**
 * Redis slow is not Redis gone. An add that timed out is usually still on its way: sending it again
 * queues the same work twice on a Redis that is already behind, and giving up on the socket (1013)
 * brings its wallet back with more. The relay waits for it instead, up to WS_ENQUEUE_PATIENCE_MS.
 */
describe('a job add while Redis is slow', () => {
  let redis: ChildProcess
  let connection: Redis
  let queue: InboundQueue
  let reader: Queue
  const keys = new RedisKeys(`slow-redis-${randomUUID().slice(0, 8)}`)

  beforeAll(async () => {
    const port = await unusedPort()
    redis = await startRedis(port)
    connection = createFailFastRedis(`redis://127.0.0.1:${port}`)
    queue = new InboundQueue({ connection, keys, addTimeoutMs: 200 })
    reader = new Queue(INBOUND_QUEUE_NAME, { connection: { url: `redis://127.0.0.1:${port}` }, prefix: keys.bullPrefix })
    await reader.waitUntilReady()
  })
  afterAll(async () => {
    redis.kill('SIGCONT')
    await queue.close()
    await reader.close()
    connection.disconnect()
    await stopRedis(redis)
  })

  const job = (): InboundMessageJob => ({
    v: INBOUND_JOB_VERSION,
    kind: 'message',
    relayId: 'relay-slow',
    socketId: randomUUID(),
    transport: 'ws',
    messageId: randomUUID(),
    receivedAt: Date.now(),
    payload: '{"protected":"e30","iv":"","ciphertext":"","tag":""}',
    replyExpected: false,
    headers: {},
  })

  /** Redis frozen for `ms` (SIGSTOP): connected, answering nothing, as when it is far behind. */
  const freezeFor = (ms: number) => {
    redis.kill('SIGSTOP')
    setTimeout(() => redis.kill('SIGCONT'), ms)
  }

  it('waits for the add still on its way, past the retry window, and sends it once', async () => {
    const stored = job()
    let sent = 0
    freezeFor(1_500)
    const started = Date.now()
    await addWithRetry(
      () => {
        sent++
        return queue.addMessage(stored)
      },
      { retryForMs: 300, patienceMs: 20_000, inFlight: inboundAddInFlight },
    )
    // Past the 300 ms of retries: it waited for Redis instead of giving up.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000)
    expect(sent).toBe(1)
    expect((await reader.getJob(stored.messageId))?.data).toMatchObject({ messageId: stored.messageId })
  })

  it('gives up once the patience is spent, with the timeout, and the add still lands', async () => {
    const late = job()
    freezeFor(1_500)
    const attempt = addWithRetry(() => queue.addMessage(late), { retryForMs: 300, patienceMs: 600, inFlight: inboundAddInFlight })
    await expect(attempt).rejects.toBeInstanceOf(InboundAddTimeoutError)
    // Never acknowledged, so a late copy is harmless: the worker finds its socket gone.
    await expect.poll(async () => (await reader.getJob(late.messageId)) !== undefined, { timeout: 5_000 }).toBe(true)
  })

  it('without patience sends the add again while the first is still on its way (what a storm fed on)', async () => {
    let sent = 0
    freezeFor(1_500)
    const attempt = addWithRetry(() => {
      sent++
      return queue.addMessage(job())
    }, 1_000)
    await expect(attempt).rejects.toBeInstanceOf(InboundAddTimeoutError)
    expect(sent).toBeGreaterThan(1)
  })
})
