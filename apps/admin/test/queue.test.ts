import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { AgentContext, DependencyManager } from '@credo-ts/core'
import {
  DidCommConnectionRecord,
  DidCommDidExchangeRole,
  DidCommDidExchangeState,
  DidCommMediationRecord,
  DidCommMediationRole,
  DidCommMediationState,
} from '@credo-ts/didcomm'
import { RedisKeys } from '@mediator/contracts'
import { formatRecipientKey } from '@mediator/credo-runtime'
import { RedisPickupQueue } from '@mediator/redis'
import { PostgresStorageService } from '@mediator/storage-postgres'
import { createTestRedisPrefix, createTestSchema, type TestRedisPrefix, type TestSchema } from '@mediator/test-support'
import type { QueueReport } from '../src/index.js'
import { randomBase58Key, runAdmin } from './support.js'

const envelope = { protected: 'eyJ9', iv: 'AA', ciphertext: 'AA', tag: 'AA' }
// The storage reads only the context's correlation id; the workers' records live under 'default'.
const root = new AgentContext({ dependencyManager: new DependencyManager(), contextCorrelationId: 'default' })

describe('mediator-admin queue', () => {
  let redis: TestRedisPrefix
  let db: TestSchema
  let client: Redis
  let env: Record<string, string>
  const walletKey = randomBase58Key()
  const otherKey = randomBase58Key()
  const connection = new DidCommConnectionRecord({
    role: DidCommDidExchangeRole.Responder,
    state: DidCommDidExchangeState.Completed,
    theirLabel: 'alice wallet',
  })

  beforeAll(async () => {
    redis = await createTestRedisPrefix('admin_queue')
    db = await createTestSchema('admin_queue')
    client = new Redis(redis.redisUrl)
    env = { REDIS_URL: redis.redisUrl, REDIS_PREFIX: redis.prefix, DATABASE_URL: db.databaseUrl, DATABASE_SCHEMA: db.schema }

    // The records a worker keeps for a wallet with granted mediation and two registered keys.
    const storage = await PostgresStorageService.create({ pool: db.pool })
    await storage.save(root, connection)
    await storage.save(
      root,
      new DidCommMediationRecord({
        connectionId: connection.id,
        role: DidCommMediationRole.Mediator,
        state: DidCommMediationState.Granted,
        recipientKeys: [walletKey, otherKey],
        routingKeys: [],
        threadId: 'mediation-thread',
      }),
    )

    // Three messages queued two minutes ago (two for the wallet's first key), one of them delivered.
    const twoMinutesAgo = Date.now() - 120_000
    const queue = new RedisPickupQueue({ redis: client, prefix: new RedisKeys(redis.prefix), clock: () => twoMinutesAgo, leaseMs: 3_600_000 })
    const ctx = root
    for (const key of [walletKey, walletKey, otherKey]) {
      await queue.addMessage(ctx, { connectionId: connection.id, recipientDids: [formatRecipientKey(key, true)], payload: envelope })
    }
    expect(await queue.takeFromQueue(ctx, { connectionId: connection.id, limit: 1 })).toHaveLength(1)
  })
  afterAll(async () => {
    client?.disconnect()
    await redis?.cleanup()
    await db?.drop()
  })

  it('reports a wallet queue by connection id: count, leased, oldest message age', async () => {
    const run = await runAdmin(['queue', connection.id, '--json'], env)
    expect(run.code, run.stderr).toBe(0)
    const report = run.json<QueueReport>()
    expect(report.queues).toHaveLength(1)
    const q = report.queues[0]
    expect(q).toMatchObject({ connectionId: connection.id, count: 3, pending: 2, leased: 1, leaseRunOut: 0, connection: { theirLabel: 'alice wallet' } })
    expect(q?.oldestMessageAgeMs).toBeGreaterThanOrEqual(119_000)
    const text = await runAdmin(['queue', connection.id], env)
    expect(text.stdout).toMatch(new RegExp(`${connection.id}\\s+3\\s+2\\s+1\\s+0\\s+2m`))
  })

  it('finds the wallet by a recipient key it registered, as did:key or base58', async () => {
    for (const key of [walletKey, formatRecipientKey(walletKey, true)]) {
      const run = await runAdmin(['queue', key, '--json'], env)
      expect(run.code, run.stderr).toBe(0)
      const report = run.json<QueueReport>()
      expect(report.query).toEqual({ recipientKey: { base58: walletKey, didKey: formatRecipientKey(walletKey, true) } })
      expect(report.queues.map((q) => [q.connectionId, q.count, q.leased, q.mediationState])).toEqual([[connection.id, 3, 1, 'granted']])
      // Pending for this key alone: of its two messages, the oldest was delivered and is leased.
      expect(report.queues[0]?.pendingForKey).toBe(1)
    }
    expect((await runAdmin(['queue', otherKey, '--json'], env)).json<QueueReport>().queues[0]?.pendingForKey).toBe(1)
  })

  it('answers unknown ids and keys with exit code 3, and what is neither with exit code 2', async () => {
    const unknownKey = await runAdmin(['queue', randomBase58Key()], env)
    expect(unknownKey.code).toBe(3)
    expect(unknownKey.stderr).toMatch(/^mediator-admin: no wallet registered recipient key \w+ \(did:key:z6Mk\w+\)\n$/)
    const unknownConnection = await runAdmin(['queue', '7d3f8c2e-0000-4000-8000-000000000000'], env)
    expect(unknownConnection.code).toBe(3)
    expect(unknownConnection.stderr).toMatch(/unknown connection 7d3f8c2e-/)
    const neither = await runAdmin(['queue', 'drop table;'], env)
    expect(neither.code).toBe(2)
    expect(neither.stderr).toMatch(/neither a connection id nor a recipient key/)
    const badKey = await runAdmin(['queue', 'did:key:zNotAKey'], env)
    expect(badKey.code).toBe(2)
    const noArg = await runAdmin(['queue'], env)
    expect(noArg.code).toBe(2)
    const pgDown = await runAdmin(['queue', walletKey], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' })
    expect(pgDown.code).toBe(1)
    expect(pgDown.stderr).toMatch(/^mediator-admin: Postgres unreachable at postgres:\/\/postgres@127\.0\.0\.1:1\/test: .*ECONNREFUSED/)
  })
})
