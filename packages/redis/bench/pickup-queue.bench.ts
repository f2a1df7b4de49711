/**
 * Throughput and latency of RedisPickupQueue against the local Redis.
 *   npx tsx --conditions=source packages/redis/bench/pickup-queue.bench.ts
 * Writes bench-results/pickup-queue.json at the repository root. TEST_REDIS_URL picks another Redis;
 * on a Redis nobody else uses, `redisUsecPerCall` is the server CPU each script call costs, which is
 * what bounds the whole cluster (Redis runs scripts on one thread).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import type { AgentContext } from '@credo-ts/core'
import type { DidCommEncryptedMessage } from '@credo-ts/didcomm'
import { createTestRedisPrefix } from '@mediator/test-support'
import { RedisPickupQueue } from '../src/index.js'

// The queue never reads the agent context.
const ctx = {} as AgentContext
const PAYLOAD_BYTES = Number(process.env.BENCH_PAYLOAD_BYTES ?? 4096)
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000)
const CONNECTIONS = 100
const CONCURRENCY = 32
const BATCH = 10

const payload: DidCommEncryptedMessage = {
  protected: 'eyJlbmMiOiJ4Y2hhY2hhMjBwb2x5MTMwNV9pZXRmIiwidHlwIjoiSldNLzEuMCIsImFsZyI6IkFub25jcnlwdCJ9',
  iv: 'aXYtZm9yLWJlbmNobWFyaw',
  ciphertext: 'A'.repeat(PAYLOAD_BYTES),
  tag: 'dGFnLWZvci1iZW5jaA',
}

/** Script calls and the server time they took so far (EVALSHA, plus EVAL for first loads). */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats')
  let calls = 0
  let usec = 0
  for (const match of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/g)) {
    calls += Number(match[1])
    usec += Number(match[2])
  }
  return { calls, usec }
}

/** Runs `count` calls of `op`, at most `concurrency` at a time; returns ops/s and latencies. */
async function measure(redis: Redis, count: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  const before = await scriptStats(redis)
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++
        const t0 = performance.now()
        await op(i)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(3))
  const after = await scriptStats(redis)
  const redisUsecPerCall = Number(((after.usec - before.usec) / Math.max(1, after.calls - before.calls)).toFixed(1))
  return { ops: count, opsPerSecond: Math.round(count / seconds), p50Ms: pct(0.5), p99Ms: pct(0.99), redisUsecPerCall }
}

async function main() {
  const t = await createTestRedisPrefix('bench-pq')
  const redis = new Redis(t.redisUrl)
  const queue = new RedisPickupQueue({ redis, prefix: t.prefix, maxMessagesPerConnection: 0, maxBytesPerConnection: 0 })
  const results: Record<string, unknown> = {}
  try {
    const conn = (i: number) => `conn-${i % CONNECTIONS}`

    results.addConcurrent = await measure(redis, MESSAGES, CONCURRENCY, (i) =>
      queue.addMessage(ctx, { connectionId: conn(i), recipientDids: ['did:key:z6MkBench'], payload }),
    )
    const taken: Array<{ connectionId: string; ids: string[] }> = []
    results.takeBatchConcurrent = await measure(redis, MESSAGES / BATCH, CONCURRENCY, async (i) => {
      const connectionId = conn(i)
      const messages = await queue.takeFromQueue(ctx, { connectionId, limit: BATCH })
      taken.push({ connectionId, ids: messages.map((m) => m.id) })
    })
    results.removeBatchConcurrent = await measure(redis, taken.length, CONCURRENCY, (i) =>
      queue.removeMessages(ctx, { connectionId: taken[i]!.connectionId, messageIds: taken[i]!.ids }),
    )

    // One worker, one call at a time: the latency a single forward sees.
    results.addSequential = await measure(redis, 2_000, 1, (i) =>
      queue.addMessage(ctx, { connectionId: conn(i), recipientDids: ['did:key:z6MkBench'], payload }),
    )
    results.takeOneSequential = await measure(redis, 2_000, 1, (i) =>
      queue.takeFromQueue(ctx, { connectionId: conn(i), limit: 1, deleteMessages: true }),
    )

    // A deep queue: per-operation cost must not grow with the queue length.
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, () =>
          queue.addMessage(ctx, { connectionId: 'deep', recipientDids: ['did:key:z6MkBench'], payload }),
        ),
      )
    }
    results.deepQueueTakeAndRemove = await measure(redis, 1_000, 1, async () => {
      const [m] = await queue.takeFromQueue(ctx, { connectionId: 'deep', limit: 1 })
      if (m) await queue.removeMessages(ctx, { connectionId: 'deep', messageIds: [m.id] })
    })
    await queue.deleteConnection('deep')

    // Retention sweep over many connections that each hold something expired.
    let now = Date.now()
    const clocked = new RedisPickupQueue({ redis, prefix: `${t.prefix}:sweep`, clock: () => now, maxAgeMs: 1_000 })
    await measure(redis, 5_000, CONCURRENCY, (i) =>
      clocked.addMessage(ctx, { connectionId: `sweep-${i % 1_000}`, recipientDids: [], payload }),
    )
    now += 2_000
    const sweepStarted = performance.now()
    const swept = await clocked.purgeExpired()
    results.purgeExpired = { ...swept, ms: Number((performance.now() - sweepStarted).toFixed(1)) }

    const report = {
      benchmark: 'pickup-queue',
      at: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      redis: (await redis.info('server')).match(/redis_version:(\S+)/)?.[1],
      redisUrl: t.redisUrl,
      loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
      payloadBytes: Buffer.byteLength(JSON.stringify(payload)),
      concurrency: CONCURRENCY,
      batch: BATCH,
      results,
    }
    const dir = new URL('../../../bench-results/', import.meta.url)
    await mkdir(dir, { recursive: true })
    await writeFile(new URL('pickup-queue.json', dir), `${JSON.stringify(report, null, 2)}\n`)
    console.log(JSON.stringify(report, null, 2))
  } finally {
    redis.disconnect()
    await t.cleanup()
  }
}

await main()
