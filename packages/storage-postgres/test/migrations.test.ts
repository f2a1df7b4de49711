import { createTestSchema, type TestSchema } from '@mediator/test-support'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MIGRATIONS, MIGRATIONS_TABLE, PostgresStorageError, PostgresStorageService, RECORDS_TABLE, runMigrations } from '../src/index.js'
import { poolOn } from './helpers.js'

describe('schema migrations', () => {
  let schema: TestSchema
  beforeEach(async () => {
    schema = await createTestSchema('storage_migr')
  })
  afterEach(async () => {
    await schema.drop()
  })

  it('several workers starting at once on an empty schema migrate it exactly once', async () => {
    const workers = Array.from({ length: 6 }, () => new PostgresStorageService({ pool: poolOn(schema), ownsPool: true }))
    try {
      const results = await Promise.all(workers.map((w) => w.init()))
      const latest = Math.max(...MIGRATIONS.map((m) => m.version))
      // One worker applied everything; the others waited on the lock and found nothing to do.
      expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1)
      expect(results.every((r) => r.currentVersion === latest && r.schema === schema.schema)).toBe(true)
      const { rows } = await schema.pool.query(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`)
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
      const tables = await schema.pool.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [schema.schema],
      )
      expect(tables.rows.map((r) => r.table_name)).toEqual([RECORDS_TABLE, MIGRATIONS_TABLE].sort())
    } finally {
      await Promise.all(workers.map((w) => w.close()))
    }
  })

  it('is idempotent, and init() on one service runs once', async () => {
    const service = new PostgresStorageService({ pool: schema.pool })
    const first = service.init()
    expect(service.init()).toBe(first)
    expect((await first).applied).toEqual(MIGRATIONS.map((m) => m.version))
    expect((await runMigrations(schema.pool)).applied).toEqual([])
  })

  it('applies only what is new, and a failing migration leaves nothing behind', async () => {
    await runMigrations(schema.pool)
    const broken = [...MIGRATIONS, { version: 1000, name: 'half', sql: 'CREATE TABLE half_done (x int); SELECT no_such_function()' }]
    await expect(runMigrations(schema.pool, broken)).rejects.toBeInstanceOf(PostgresStorageError)
    const half = await schema.pool.query(`SELECT to_regclass('half_done') AS t`)
    expect(half.rows[0].t).toBeNull()
    const good = [...MIGRATIONS, { version: 1000, name: 'extra', sql: 'CREATE TABLE extra_table (x int)' }]
    expect((await runMigrations(schema.pool, good)).applied).toEqual([1000])
  })

  it('refuses to run when the search_path names no existing schema', async () => {
    const pool = poolOn({ ...schema, schema: 'no_such_schema_here' })
    try {
      const error = await runMigrations(pool).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PostgresStorageError)
      expect((error as Error).message).toMatch(/search_path/)
    } finally {
      await pool.end()
    }
  })
})
