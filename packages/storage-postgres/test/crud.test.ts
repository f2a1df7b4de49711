import {
  ClassValidationError,
  DidDocumentRole,
  DidRecord,
  GenericRecord,
  RecordDuplicateError,
  RecordNotFoundError,
  StorageVersionRecord,
} from '@credo-ts/core'
import { DidCommMediationRecord, DidCommMediationRole, DidCommMediationState } from '@credo-ts/didcomm'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PostgresStorageError, PostgresStorageService, RECORDS_TABLE } from '../src/index.js'
import { agentContextFor, createStorageFixture, type StorageFixture } from './helpers.js'

const ctx = agentContextFor('default')

describe('PostgresStorageService CRUD', () => {
  let fx: StorageFixture
  beforeEach(async () => {
    fx = await createStorageFixture('storage_crud')
  })
  afterEach(async () => {
    await fx.drop()
  })

  it('saves a record and reads back an equal instance of the record class', async () => {
    const record = new GenericRecord({ content: { text: 'hello', n: 3 }, tags: { kind: 'note', flag: true, list: ['a', 'b'] } })
    await fx.storage.save(ctx, record)

    const read = await fx.storage.getById(ctx, GenericRecord, record.id)
    expect(read).toBeInstanceOf(GenericRecord)
    expect(read.id).toBe(record.id)
    expect(read.content).toEqual({ text: 'hello', n: 3 })
    expect(read.getTags()).toEqual({ kind: 'note', flag: true, list: ['a', 'b'] })
    expect(read.createdAt).toBeInstanceOf(Date)
    expect(read.createdAt.toISOString()).toBe(record.createdAt.toISOString())
    expect(read.updatedAt?.toISOString()).toBe(record.updatedAt?.toISOString())
    expect(read.toJSON()).toEqual(record.toJSON())
  })

  it('keeps class-transformer details of Credo records (computed default tags, arrays)', async () => {
    const mediation = new DidCommMediationRecord({
      connectionId: 'conn-1',
      threadId: 'thread-1',
      state: DidCommMediationState.Granted,
      role: DidCommMediationRole.Mediator,
      recipientKeys: ['did:key:z6MkA', 'did:key:z6MkB'],
      routingKeys: [],
    })
    await fx.storage.save(ctx, mediation)
    const read = await fx.storage.getById(ctx, DidCommMediationRecord, mediation.id)
    expect(read.isReady).toBe(true)
    expect(read.recipientKeys).toEqual(['did:key:z6MkA', 'did:key:z6MkB'])
    expect(read.getTags()).toEqual(mediation.getTags())
    // The tag copy is not duplicated inside the stored value.
    const { rows } = await fx.schema.pool.query(`SELECT value, tags FROM ${RECORDS_TABLE} WHERE id = $1`, [mediation.id])
    expect(rows[0].value._tags).toBeUndefined()
    expect(rows[0].tags.recipientKeys).toEqual(['did:key:z6MkA', 'did:key:z6MkB'])
  })

  it('throws RecordDuplicateError on a second save with the same id and type, in the same context', async () => {
    const record = new GenericRecord({ id: 'same-id', content: {} })
    await fx.storage.save(ctx, record)
    await expect(fx.storage.save(ctx, new GenericRecord({ id: 'same-id', content: { x: 1 } }))).rejects.toBeInstanceOf(
      RecordDuplicateError,
    )
    // Same id under another type or another context is a different record.
    const other = new StorageVersionRecord({ storageVersion: '0.5' })
    other.id = 'same-id'
    await fx.storage.save(ctx, other)
    await fx.storage.save(agentContextFor('tenant-2'), new GenericRecord({ id: 'same-id', content: {} }))
    expect((await fx.storage.getById(ctx, GenericRecord, 'same-id')).content).toEqual({})
  })

  it('throws RecordNotFoundError for getById, update, delete and deleteById of a missing record', async () => {
    const missing = new GenericRecord({ id: 'nope', content: {} })
    await expect(fx.storage.getById(ctx, GenericRecord, 'nope')).rejects.toBeInstanceOf(RecordNotFoundError)
    await expect(fx.storage.update(ctx, missing)).rejects.toBeInstanceOf(RecordNotFoundError)
    await expect(fx.storage.delete(ctx, missing)).rejects.toBeInstanceOf(RecordNotFoundError)
    await expect(fx.storage.deleteById(ctx, GenericRecord, 'nope')).rejects.toBeInstanceOf(RecordNotFoundError)
    await expect(fx.storage.updateByIdWithLock(ctx, GenericRecord, 'nope', async (r) => r)).rejects.toBeInstanceOf(
      RecordNotFoundError,
    )
  })

  it('updates value and tags, and sets updatedAt', async () => {
    const record = new GenericRecord({ content: { v: 1 }, tags: { state: 'a', gone: 'x' } })
    await fx.storage.save(ctx, record)
    const firstUpdatedAt = record.updatedAt
    record.content = { v: 2 }
    record.replaceTags({ state: 'b' })
    await fx.storage.update(ctx, record)

    const read = await fx.storage.getById(ctx, GenericRecord, record.id)
    expect(read.content).toEqual({ v: 2 })
    expect(read.getTags()).toEqual({ state: 'b' })
    expect(read.updatedAt!.getTime()).toBeGreaterThanOrEqual(firstUpdatedAt!.getTime())
    expect(await fx.storage.findByQuery(ctx, GenericRecord, { gone: 'x' })).toHaveLength(0)
    expect(await fx.storage.findByQuery(ctx, GenericRecord, { state: 'b' })).toHaveLength(1)
  })

  it('deletes by instance and by id', async () => {
    const a = new GenericRecord({ content: {} })
    const b = new GenericRecord({ content: {} })
    await fx.storage.save(ctx, a)
    await fx.storage.save(ctx, b)
    await fx.storage.delete(ctx, a)
    await fx.storage.deleteById(ctx, GenericRecord, b.id)
    expect(await fx.storage.getAll(ctx, GenericRecord)).toEqual([])
  })

  it('keeps contexts (tenants) apart', async () => {
    const t1 = agentContextFor('tenant-1')
    const t2 = agentContextFor('tenant-2')
    const r = new GenericRecord({ content: { who: 1 }, tags: { k: 'v' } })
    await fx.storage.save(t1, r)
    await expect(fx.storage.getById(t2, GenericRecord, r.id)).rejects.toBeInstanceOf(RecordNotFoundError)
    expect(await fx.storage.findByQuery(t2, GenericRecord, { k: 'v' })).toEqual([])
    expect(await fx.storage.getAll(t2, GenericRecord)).toEqual([])
    expect(await fx.storage.findByQuery(t1, GenericRecord, { k: 'v' })).toHaveLength(1)
    await fx.storage.save(t2, new GenericRecord({ content: {} }))
    expect(await fx.storage.deleteContext('tenant-1')).toBe(1)
    expect(await fx.storage.getAll(t1, GenericRecord)).toEqual([])
    expect(await fx.storage.getAll(t2, GenericRecord)).toHaveLength(1)
  })

  it('getAll returns only the requested type, in insertion order', async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = new GenericRecord({ id: `r-${9 - i}`, content: { i } })
      ids.push(r.id)
      await fx.storage.save(ctx, r)
    }
    await fx.storage.save(ctx, new StorageVersionRecord({ storageVersion: '0.5' }))
    expect((await fx.storage.getAll(ctx, GenericRecord)).map((r) => r.id)).toEqual(ids)
  })

  it('validates records on read unless told not to', async () => {
    const record = new DidRecord({ did: 'did:peer:4zQm', role: DidDocumentRole.Created })
    await fx.storage.save(ctx, record)
    // DidRecord.role is an @IsEnum; a broken row must not come back as a half-valid record.
    await fx.schema.pool.query(`UPDATE ${RECORDS_TABLE} SET value = jsonb_set(value, '{role}', '"bogus"') WHERE id = $1`, [
      record.id,
    ])
    await expect(fx.storage.getById(ctx, DidRecord, record.id)).rejects.toBeInstanceOf(ClassValidationError)
    const lenient = new PostgresStorageService({ pool: fx.schema.pool, validateOnRead: false })
    expect((await lenient.getById(ctx, DidRecord, record.id)).role).toBe('bogus')
  })

  it('reports database failures as PostgresStorageError with the cause', async () => {
    await fx.schema.pool.query(`ALTER TABLE ${RECORDS_TABLE} RENAME TO broken_records`)
    const error = await fx.storage.getById(ctx, GenericRecord, 'x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PostgresStorageError)
    expect((error as PostgresStorageError).cause).toBeInstanceOf(Error)
  })
})
