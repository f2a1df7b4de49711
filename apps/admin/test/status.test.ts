import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import { InboundQueue, LiveSessionDirectory, RelayRegistry, WorkerRegistry } from '@mediator/redis'
import { createTestRedisPrefix, type TestRedisPrefix } from '@mediator/test-support'
import type { ClusterStatus } from '../src/index.js'
import { deadLetter, messageJob, runAdmin } from './support.js'

describe('mediator-admin status', () => {
  let redis: TestRedisPrefix
  let keys: RedisKeys
  let env: Record<string, string>
  let client: Redis

  beforeEach(async () => {
    redis = await createTestRedisPrefix('admin_status')
    keys = new RedisKeys(redis.prefix)
    env = { REDIS_URL: redis.redisUrl, REDIS_PREFIX: redis.prefix }
    client = new Redis(redis.redisUrl)
  })
  afterEach(async () => {
    client.disconnect()
    await redis.cleanup()
  })

  it('reports what is in Redis: relays and workers with their heartbeats, the inbound queue, live sessions, dead letters', async () => {
    const relays = new RelayRegistry(client, keys)
    const base = { startedAt: Date.now() - 3_600_000, heartbeatIntervalMs: 60_000 }
    await relays.announce({ relayId: 'relay-a', internalUrl: 'http://10.0.0.1:4000', sockets: 7, ...base })
    await relays.announce({ relayId: 'relay-b', internalUrl: 'http://10.0.0.2:4000', sockets: 0, ...base })
    await relays.announce({ relayId: 'relay-gone', internalUrl: 'http://10.0.0.3:4000', ...base })
    await client.del(keys.relayHeartbeat('relay-gone')) // died without withdrawing
    const workers = new WorkerRegistry(client, keys)
    await workers.heartbeat({ workerId: 'worker-1', startedAt: Date.now(), heartbeatIntervalMs: 60_000, concurrency: 32, host: 'pod-1', pid: 42 })
    await workers.heartbeat({ workerId: 'worker-killed', startedAt: Date.now(), heartbeatIntervalMs: 60_000, concurrency: 8 })
    await client.del(keys.workerHeartbeat('worker-killed'))

    const directory = new LiveSessionDirectory({ redis: client, prefix: keys })
    const live = (cid: string, relayId: string, socketId: string) =>
      directory.register(cid, { relayId, socketId, transport: 'ws', registeredAt: Date.now() })
    await live('conn-1', 'relay-a', 'sock-1')
    await live('conn-2', 'relay-a', 'sock-2')
    await live('conn-3', 'relay-b', 'sock-3')
    await live('conn-4', 'relay-gone', 'sock-4') // on a dead relay: not counted as live

    await deadLetter(redis.redisUrl, keys, [
      { job: messageJob(), reason: 'No corresponding recipient key found' },
      { job: messageJob(), reason: 'No corresponding recipient key found' },
    ])
    // Nothing consumes the queue now: these wait, the oldest stored two minutes ago.
    const queue = new Queue(INBOUND_QUEUE_NAME, { connection: client, prefix: keys.bullPrefix })
    const oldest = messageJob()
    await queue.add('message', oldest, { jobId: oldest.messageId, timestamp: Date.now() - 120_000 })
    const producer = new InboundQueue({ connection: client, keys })
    for (let i = 0; i < 3; i++) await producer.addMessage(messageJob())
    const later = messageJob()
    await queue.add('message', later, { jobId: later.messageId, delay: 3_600_000 })
    await queue.close()
    await producer.close()

    const run = await runAdmin(['status', '--json'], env)
    expect(run.code, run.stderr).toBe(0)
    const status = run.json<ClusterStatus>()
    expect(status.prefix).toBe(redis.prefix)
    expect(status.relays.map((r) => [r.relayId, r.alive, r.sockets, r.liveSockets])).toEqual([
      ['relay-a', true, 7, 2],
      ['relay-b', true, 0, 1],
      ['relay-gone', false, undefined, 1],
    ])
    expect(status.relays[0]?.heartbeatAgeMs).toBeGreaterThanOrEqual(0)
    expect(status.relays[2]?.heartbeatAgeMs).toBeUndefined()
    expect(status.workers).toMatchObject([
      { workerId: 'worker-1', alive: true, concurrency: 32, host: 'pod-1', pid: 42 },
      { workerId: 'worker-killed', alive: false, concurrency: 8 },
    ])
    // A dead worker's age is that of its last beat, from its last announcement.
    expect(status.workers[1]?.heartbeatAgeMs).toBeGreaterThanOrEqual(0)
    expect(status.inbound).toMatchObject({ waiting: 4, active: 0, delayed: 1, failed: 2 })
    expect(status.inbound.oldestWaitingAgeMs).toBeGreaterThanOrEqual(120_000)
    expect(status.inboundConsumers).toBe(0)
    expect(status.liveSessions).toBe(3)
    expect(status.deadLetters).toBe(2)
    expect(status.pickup).toMatchObject({ connectionsWithMessages: 0, connectionsWithRunOutLeases: 0, expiredTotal: 0 })

    const text = await runAdmin(['status'], env)
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/relays \(2 alive of 3 announced\)/)
    expect(text.stdout).toMatch(/relay-gone\s+DEAD/)
    expect(text.stdout).toMatch(/workers \(1 alive of 2 announced; 0 inbound consumer connections\)/)
    expect(text.stdout).toMatch(/waiting 4\s+active 0\s+delayed 1\s+failed 2\s+oldest waiting 2m/)
    expect(text.stdout).toMatch(/live sessions\s+3/)
    expect(text.stdout).toMatch(/dead letters\s+2/)
  })

  it('reports an empty deployment as such', async () => {
    const status = (await runAdmin(['status', '--json'], env)).json<ClusterStatus>()
    expect(status).toMatchObject({ relays: [], workers: [], liveSessions: 0, deadLetters: 0, inbound: { waiting: 0, failed: 0 } })
    expect(status.inbound.oldestWaitingAgeMs).toBeUndefined()
  })

  it('says in one line, exit code 1, when Redis is unreachable, and in exit code 2 when the settings are bad', async () => {
    const down = await runAdmin(['status'], { REDIS_URL: 'redis://127.0.0.1:1', REDIS_PREFIX: redis.prefix })
    expect(down.code).toBe(1)
    expect(down.stderr).toMatch(/^mediator-admin: Redis unreachable at redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/)
    expect(down.stderr.trim().split('\n')).toHaveLength(1)

    const asJson = await runAdmin(['status', '--json', '--redis-url', 'redis://127.0.0.1:1'], env)
    expect(asJson.code).toBe(1)
    expect(asJson.json()).toMatchObject({ error: { message: expect.stringContaining('Redis unreachable'), exitCode: 1 } })

    const badPrefix = await runAdmin(['status', '--prefix', 'has space'], env)
    expect(badPrefix.code).toBe(2)
    expect(badPrefix.stderr.trim()).toBe("mediator-admin: REDIS_PREFIX: use letters, digits, ':', '_' or '-'")
    const unknown = await runAdmin(['statuz'], env)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command 'statuz'/)
  })

  it('prints the invitation the workers published', async () => {
    const none = await runAdmin(['invitation'], env)
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/no invitation published under prefix/)
    const url = 'http://mediator.example/?oob=eyJAdHlwZSI6Imh0dHBzOi8vZGlkY29tbS5vcmcvb3V0LW9mLWJhbmQvMS4xL2ludml0YXRpb24ifQ'
    await client.set(keys.invitation, JSON.stringify({ url, invitation: { '@type': 'https://didcomm.org/out-of-band/1.1/invitation' } }))
    const text = await runAdmin(['invitation'], env)
    expect(text.code).toBe(0)
    expect(text.stdout).toBe(`${url}\n`)
    expect((await runAdmin(['invitation', '--json'], env)).json()).toMatchObject({ url, invitation: { '@type': expect.any(String) } })
  })
})
