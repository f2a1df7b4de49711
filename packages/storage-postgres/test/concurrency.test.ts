import { GenericRecord } from '@credo-ts/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RecordConcurrencyError, retryOnConflict, type PostgresStorageService } from '../src/index.js'
import { agentContextFor, createStorageFixture, type StorageFixture } from './helpers.js'

const ctx = agentContextFor('default')

/** A tag-list append: the kind of read-modify-write two workers do on one mediation record. */
async function appendKey(storage: PostgresStorageService, id: string, key: string): Promise<void> {
  const record = await storage.getById(ctx, GenericRecord, id)
  const keys = (record.getTag('keys') as string[] | undefined) ?? []
  record.setTag('keys', [...keys, key])
  await storage.update(ctx, record)
}

describe('two workers updating one record', () => {
  let fx: StorageFixture
  let workerA: PostgresStorageService
  let workerB: PostgresStorageService

  beforeEach(async () => {
    fx = await createStorageFixture('storage_conc')
    // Two services, each on its own pool, as two mediator processes would be.
    workerA = await fx.secondWorker()
    workerB = await fx.secondWorker()
    await workerA.save(ctx, new GenericRecord({ id: 'shared', content: { n: 0 }, tags: { keys: [] } }))
  })
  afterEach(async () => {
    await fx.drop()
  })

  it('a stale copy cannot overwrite: exactly one of two racing updates wins', async () => {
    const copyA = await workerA.getById(ctx, GenericRecord, 'shared')
    const copyB = await workerB.getById(ctx, GenericRecord, 'shared')
    copyA.setTag('keys', ['from-a'])
    copyB.setTag('keys', ['from-b'])

    const results = await Promise.allSettled([workerA.update(ctx, copyA), workerB.update(ctx, copyB)])
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]!.reason).toBeInstanceOf(RecordConcurrencyError)
    expect((lost[0]!.reason as RecordConcurrencyError).retryable).toBe(true)

    const winner = results[0]!.status === 'fulfilled' ? 'from-a' : 'from-b'
    const stored = await workerA.getById(ctx, GenericRecord, 'shared')
    expect(stored.getTag('keys')).toEqual([winner])
  })

  it('the winner can keep updating its copy; the loser must re-read', async () => {
    const copyA = await workerA.getById(ctx, GenericRecord, 'shared')
    const copyB = await workerB.getById(ctx, GenericRecord, 'shared')
    await workerA.update(ctx, copyA)
    await workerA.update(ctx, copyA)
    await expect(workerB.update(ctx, copyB)).rejects.toBeInstanceOf(RecordConcurrencyError)
    // The failed attempt did not write, even partly.
    expect((await workerB.getById(ctx, GenericRecord, 'shared')).getTag('keys')).toEqual([])
    const fresh = await workerB.getById(ctx, GenericRecord, 'shared')
    fresh.setTag('keys', ['b'])
    await workerB.update(ctx, fresh)
    expect((await workerA.getById(ctx, GenericRecord, 'shared')).getTag('keys')).toEqual(['b'])
  })

  it('with retryOnConflict, every racing update lands', async () => {
    const writes = [
      ...Array.from({ length: 10 }, (_, i) => retryOnConflict(() => appendKey(workerA, 'shared', `a${i}`), { attempts: 50 })),
      ...Array.from({ length: 10 }, (_, i) => retryOnConflict(() => appendKey(workerB, 'shared', `b${i}`), { attempts: 50 })),
    ]
    await Promise.all(writes)
    const keys = (await workerA.getById(ctx, GenericRecord, 'shared')).getTag('keys') as string[]
    expect([...keys].sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`)].sort())
  })

  it('without retries, racing read-modify-writes lose none silently: each either lands or throws', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => appendKey(i % 2 === 0 ? workerA : workerB, 'shared', `k${i}`)),
    )
    const landed = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`k${i}`] : []))
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RecordConcurrencyError)
    const keys = (await workerA.getById(ctx, GenericRecord, 'shared')).getTag('keys') as string[]
    expect([...keys].sort()).toEqual([...landed].sort())
  })

  it('updateByIdWithLock serialises concurrent read-modify-writes across workers', async () => {
    const increments = Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? workerA : workerB).updateByIdWithLock(ctx, GenericRecord, 'shared', async (record) => {
        record.content = { n: (record.content.n as number) + 1 }
        return record
      }),
    )
    await Promise.all(increments)
    expect((await workerA.getById(ctx, GenericRecord, 'shared')).content).toEqual({ n: 20 })
    // The returned instance knows its new version: it can be updated again without a conflict.
    const returned = await workerA.updateByIdWithLock(ctx, GenericRecord, 'shared', async (record) => record)
    returned.content = { n: 21 }
    await workerA.update(ctx, returned)
    expect((await workerB.getById(ctx, GenericRecord, 'shared')).content).toEqual({ n: 21 })
    expect(workerA.supportsLocking(ctx)).toBe(true)
  })

  it('a locked update makes older copies stale', async () => {
    const copy = await workerB.getById(ctx, GenericRecord, 'shared')
    await workerA.updateByIdWithLock(ctx, GenericRecord, 'shared', async (record) => {
      record.content = { n: 1 }
      return record
    })
    await expect(workerB.update(ctx, copy)).rejects.toBeInstanceOf(RecordConcurrencyError)
  })

  it('a failing callback rolls back and releases the lock', async () => {
    await expect(
      workerA.updateByIdWithLock(ctx, GenericRecord, 'shared', async () => {
        throw new Error('callback failed')
      }),
    ).rejects.toThrow('callback failed')
    const copy = await workerB.getById(ctx, GenericRecord, 'shared')
    await workerB.update(ctx, copy)
    expect((await workerA.getById(ctx, GenericRecord, 'shared')).content).toEqual({ n: 0 })
  })

  it('an instance of unknown version (built, not read) overwrites, as Credo requires for its cache record', async () => {
    const rebuilt = new GenericRecord({ id: 'shared', content: { n: 99 } })
    await workerB.update(ctx, rebuilt)
    expect((await workerA.getById(ctx, GenericRecord, 'shared')).content).toEqual({ n: 99 })
  })

  it('retryOnConflict gives up after the given attempts and rethrows other errors at once', async () => {
    let calls = 0
    const conflict = () => {
      calls++
      return Promise.reject(new RecordConcurrencyError('x', { recordType: 't', recordId: 'i' }))
    }
    await expect(retryOnConflict(conflict, { attempts: 3, backoffMs: () => 0 })).rejects.toBeInstanceOf(RecordConcurrencyError)
    expect(calls).toBe(3)
    calls = 0
    const other = () => {
      calls++
      return Promise.reject(new Error('other'))
    }
    await expect(retryOnConflict(other, { attempts: 3 })).rejects.toThrow('other')
    expect(calls).toBe(1)
  })
})
