import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import { createTestRedisPrefix, type TestRedisPrefix } from '@mediator/test-support'
import { formatRecipientKey } from '@mediator/credo-runtime'
import { deadLetter, messageJob, randomBase58Key, runAdmin, scriptedPrompt } from './support.js'

const UNREGISTERED = randomBase58Key()
const UNREGISTERED_DID = formatRecipientKey(UNREGISTERED, true)

interface Listed {
  total: number
  shown: number
  deadLetters: Array<{ id: string; failedReason: string; relayId?: string; kind: string }>
}

describe('mediator-admin dead-letters', () => {
  let redis: TestRedisPrefix
  let keys: RedisKeys
  let env: Record<string, string>
  let probe: Redis
  let inbound: Queue

  beforeEach(async () => {
    redis = await createTestRedisPrefix('admin_dl')
    keys = new RedisKeys(redis.prefix)
    env = { REDIS_URL: redis.redisUrl, REDIS_PREFIX: redis.prefix }
    probe = new Redis(redis.redisUrl)
    inbound = new Queue(INBOUND_QUEUE_NAME, { connection: probe, prefix: keys.bullPrefix })
  })
  afterEach(async () => {
    await inbound.close()
    probe.disconnect()
    await redis.cleanup()
  })

  /** Three kinds of dead letters, as workers leave them. */
  async function seed() {
    const unroutable = messageJob({ relayId: 'relay-a' })
    const unknownKey = messageJob({ relayId: 'relay-b', kid: UNREGISTERED })
    const undecryptable = messageJob({ relayId: 'relay-a' })
    await deadLetter(redis.redisUrl, keys, [
      { job: unroutable, reason: `forward to recipient key ${UNREGISTERED}, which no wallet registered` },
      { job: unknownKey, reason: 'No corresponding recipient key found' },
      { job: undecryptable, reason: 'Error decrypting: the ciphertext does not authenticate' },
    ])
    return { unroutable, unknownKey, undecryptable }
  }

  it('lists dead letters with their reasons, and filters by error text, recipient, relay and time', async () => {
    const { unroutable, unknownKey, undecryptable } = await seed()
    const all = await runAdmin(['dead-letters', 'list', '--json'], env)
    expect(all.code, all.stderr).toBe(0)
    const listed = all.json<Listed>()
    expect(listed.total).toBe(3)
    expect(listed.deadLetters.map((d) => d.id).sort()).toEqual([unroutable, unknownKey, undecryptable].map((j) => j.messageId).sort())

    const byError = (await runAdmin(['dead-letters', 'list', '--error', 'DECRYPTING', '--json'], env)).json<Listed>()
    expect(byError.deadLetters.map((d) => d.id)).toEqual([undecryptable.messageId])

    // The key as the reason names it, or as the envelope is encrypted to it, in either spelling.
    for (const key of [UNREGISTERED, UNREGISTERED_DID]) {
      const byKey = (await runAdmin(['dead-letters', 'list', '--recipient', key, '--json'], env)).json<Listed>()
      expect(byKey.deadLetters.map((d) => d.id).sort(), key).toEqual([unroutable.messageId, unknownKey.messageId].sort())
    }

    const byRelay = (await runAdmin(['dead-letters', 'list', '--relay', 'relay-a', '--limit', '1', '--json'], env)).json<Listed>()
    expect(byRelay.shown).toBe(1)
    expect(byRelay.deadLetters[0]?.relayId).toBe('relay-a')

    // Only the letters that failed after a point in time.
    await new Promise((resolve) => setTimeout(resolve, 10))
    const cut = new Date().toISOString()
    await new Promise((resolve) => setTimeout(resolve, 10))
    const late = messageJob()
    await deadLetter(redis.redisUrl, keys, [{ job: late, reason: 'late failure' }])
    const since = (await runAdmin(['dead-letters', 'list', '--since', cut, '--json'], env)).json<Listed>()
    expect(since.deadLetters.map((d) => d.id)).toEqual([late.messageId])
    const until = (await runAdmin(['dead-letters', 'list', '--until', cut, '--json'], env)).json<Listed>()
    expect(until.deadLetters).toHaveLength(3)

    // A wallet's queue at its cap names the connection.
    const full = messageJob()
    await deadLetter(redis.redisUrl, keys, [{ job: full, reason: 'Pickup queue of connection conn-42 is full: 10000 messages queued, limit 10000' }])
    const byConnection = (await runAdmin(['dead-letters', 'list', '--connection', 'conn-42', '--json'], env)).json<Listed>()
    expect(byConnection.deadLetters.map((d) => d.id)).toEqual([full.messageId])

    const text = await runAdmin(['dead-letters', 'list', '--error', 'no wallet'], env)
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(unroutable.messageId)
    expect(text.stdout).toContain('1 shown of 5 dead letters')
  })

  it('shows one dead letter with its job, and answers an unknown id with exit code 3', async () => {
    const { unroutable } = await seed()
    const shown = await runAdmin(['dead-letters', 'show', unroutable.messageId, '--json'], env)
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.json()).toMatchObject({
      id: unroutable.messageId,
      kind: 'message',
      failedReason: expect.stringContaining('no wallet registered'),
      envelope: { alg: 'Anoncrypt' },
      data: { payload: unroutable.payload, relayId: 'relay-a' },
    })
    const missing = await runAdmin(['dead-letters', 'show', 'no-such-job'], env)
    expect(missing.code).toBe(3)
    expect(missing.stderr.trim()).toBe('mediator-admin: no dead letter with id no-such-job')
  })

  it('purges only what was asked: the given ids, or what the filters select, after confirmation', async () => {
    const { unroutable, unknownKey, undecryptable } = await seed()
    const waiting = messageJob()
    await inbound.add('message', waiting, { jobId: waiting.messageId })

    // Not confirmed: nothing is removed.
    const declined = scriptedPrompt(false)
    const refused = await runAdmin(['dead-letters', 'purge', unroutable.messageId], env, declined)
    expect(refused.code).toBe(4)
    expect(declined.asked).toHaveLength(1)
    expect(await inbound.getFailedCount()).toBe(3)

    // One id, confirmed; a waiting job named alongside is not a dead letter and stays.
    const purged = await runAdmin(['dead-letters', 'purge', unroutable.messageId, waiting.messageId, '--json'], env, scriptedPrompt(true))
    expect(purged.code).toBe(3)
    expect(purged.json()).toMatchObject({
      requested: 2,
      done: 1,
      outcomes: [
        { id: unroutable.messageId, outcome: 'purged' },
        { id: waiting.messageId, outcome: 'not-dead', state: 'waiting' },
      ],
    })
    expect(await inbound.getJobState(unroutable.messageId)).toBe('unknown')
    expect(await inbound.getJobState(waiting.messageId)).toBe('waiting')

    // By filter, with --yes: only the matching one goes.
    const byFilter = await runAdmin(['dead-letters', 'purge', '--all', '--error', 'decrypting', '--yes', '--json'], env)
    expect(byFilter.code, byFilter.stderr).toBe(0)
    expect(byFilter.json()).toMatchObject({ requested: 1, done: 1 })
    const left = await inbound.getFailed()
    expect(left.map((j) => j.id)).toEqual([unknownKey.messageId])
    expect(await inbound.getJobState(undecryptable.messageId)).toBe('unknown')
    expect(await inbound.getWaitingCount()).toBe(1)
  })

  it('replays a dead letter once: back on the queue with its job intact, a second replay refused', async () => {
    const { unroutable, unknownKey, undecryptable } = await seed()
    const first = await runAdmin(['dead-letters', 'replay', unroutable.messageId, '--json'], env)
    expect(first.code, first.stderr).toBe(0)
    expect(first.json()).toMatchObject({ requested: 1, done: 1 })
    const job = await inbound.getJob(unroutable.messageId)
    expect(await job?.getState()).toBe('waiting')
    expect(job?.data).toEqual(unroutable)
    expect(job?.attemptsMade).toBe(0)

    const again = await runAdmin(['dead-letters', 'replay', unroutable.messageId], env)
    expect(again.code).toBe(3)
    expect(again.stdout).toContain('not a dead letter (now waiting)')
    expect(await inbound.getWaitingCount()).toBe(1)
    expect((await inbound.getFailed()).map((j) => j.id).sort()).toEqual([unknownKey.messageId, undecryptable.messageId].sort())
  })

  it('refuses bad filters and incomplete commands with exit code 2 and one line', async () => {
    await seed()
    const cases: Array<[string[], RegExp]> = [
      [['dead-letters', 'list', '--since', 'yesterday'], /--since 'yesterday': give a duration/],
      [['dead-letters', 'list', '--limit', '0'], /--limit '0'/],
      [['dead-letters', 'list', '--kind', 'forward'], /--kind 'forward': one of message/],
      [['dead-letters', 'list', '--recipient', 'not-a-key'], /'not-a-key' is not a recipient key/],
      [['dead-letters', 'list', '--since', '1h', '--until', '2h'], /--since is later than --until/],
      [['dead-letters', 'replay'], /needs ids, or --all/],
      [['dead-letters', 'purge', 'abc', '--all'], /give ids or --all with filters, not both/],
      [['dead-letters', 'explode'], /unknown dead-letters action 'explode'/],
      [['dead-letters', 'list', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['status', '--error', 'x'], /--error does not apply to status/],
    ]
    for (const [args, message] of cases) {
      const run = await runAdmin(args, env)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr, args.join(' ')).toMatch(message)
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
    }
    expect(await inbound.getFailedCount()).toBe(3)
  })
})
