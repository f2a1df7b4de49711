import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import { testRedisUrl } from '@mediator/test-support'
import type { TestCluster } from '../../support/cluster.js'

export interface DeadLetter {
  id: string | undefined
  failedReason: string
  attemptsMade: number
}

/** The inbound jobs in the failed set (the dead letters) of a test cluster. */
export async function deadLetters(cluster: TestCluster): Promise<DeadLetter[]> {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 2 })
  const queue = new Queue(INBOUND_QUEUE_NAME, { connection: redis, prefix: new RedisKeys(cluster.redis.prefix).bullPrefix })
  try {
    const jobs = await queue.getFailed(0, 1_000)
    return jobs.map((job) => ({ id: job.id, failedReason: job.failedReason, attemptsMade: job.attemptsMade }))
  } finally {
    await queue.close()
    redis.disconnect()
  }
}

/** Sum of a metric's samples (optionally only those whose labels contain `labelText`) on every worker. */
export async function metricSum(cluster: TestCluster, name: string, labelText = ''): Promise<number> {
  let sum = 0
  for (const worker of cluster.workers) {
    const text = await (await fetch(`http://127.0.0.1:${worker.opsPort}/metrics`)).text()
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue
      const rest = line.slice(name.length)
      if (rest[0] !== ' ' && rest[0] !== '{') continue
      if (labelText && !rest.includes(labelText)) continue
      sum += Number(line.slice(line.lastIndexOf(' ') + 1))
    }
  }
  return sum
}

/** Polls `check` until it returns a value (not undefined), or fails with `what`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
