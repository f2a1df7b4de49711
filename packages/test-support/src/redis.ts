import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

/** URL of the local test Redis; override with TEST_REDIS_URL. */
export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface TestRedisPrefix {
  /** A key prefix no other test uses, e.g. `test:relay:9c2e41aa`. */
  readonly prefix: string
  readonly redisUrl: string
  /** Every key under the prefix, sorted (to check what a test left behind). */
  listKeys(): Promise<string[]>
  /** Deletes every key under the prefix and closes the helper's connection. */
  cleanup(): Promise<void>
}

/**
 * Gives a test its own Redis key prefix and removes everything under it afterwards; on the shared test
 * Redis unless the test brings its own (`redisUrl`).
 */
export async function createTestRedisPrefix(label = 't', redisUrl = testRedisUrl()): Promise<TestRedisPrefix> {
  const prefix = `test:${label.replace(/[^a-z0-9_-]/gi, '_')}:${randomBytes(4).toString('hex')}`
  const scanKeys = async (each: (redis: Redis, keys: string[]) => Promise<unknown>) => {
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 })
    await redis.connect()
    try {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) await each(redis, keys)
      } while (cursor !== '0')
    } finally {
      redis.disconnect()
    }
  }
  return {
    prefix,
    redisUrl,
    async listKeys() {
      const found: string[] = []
      await scanKeys(async (_redis, keys) => found.push(...keys))
      return found.sort()
    },
    async cleanup() {
      await scanKeys((redis, keys) => redis.unlink(...keys))
    },
  }
}
