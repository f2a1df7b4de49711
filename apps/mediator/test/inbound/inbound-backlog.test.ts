import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Queue } from 'bullmq'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import { createTestRedisPrefix } from '@mediator/test-support'
import type { TestRedisPrefix } from '@mediator/test-support'
import { oldestWaitingSeconds } from '../../src/inbound/inbound-backlog.js'

describe('oldest waiting inbound job', () => {
  let t: TestRedisPrefix
  let queue: Queue

  beforeAll(async () => {
    t = await createTestRedisPrefix('inbound-backlog')
    queue = new Queue(INBOUND_QUEUE_NAME, { connection: { url: t.redisUrl }, prefix: new RedisKeys(t.prefix).bullPrefix })
  })
  afterAll(async () => {
    await queue.close()
    await t.cleanup()
  })

  it('is 0 when nothing waits', async () => {
    expect(await oldestWaitingSeconds(queue)).toBe(0)
  })

  it('is the age of the job added first, whatever came after it, and follows the oldest out', async () => {
    const now = Date.now()
    await queue.add('message', { n: 1 }, { timestamp: now - 90_000 })
    await queue.add('message', { n: 2 }, { timestamp: now - 30_000 })
    await queue.add('message', { n: 3 }, { timestamp: now - 5_000 })
    expect(await oldestWaitingSeconds(queue, now)).toBe(90)

    const [oldest] = await queue.getJobs(['wait'], 0, 0, true)
    expect(oldest!.data).toEqual({ n: 1 })
    await oldest!.remove()
    expect(await oldestWaitingSeconds(queue, now)).toBe(30)
  })
})
