import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** Connection string of the local test database; override with TEST_DATABASE_URL. */
export const testDatabaseUrl = (): string =>
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestSchema {
  /** Name of the fresh schema, e.g. `t_kms_5f3a9c1e`. */
  readonly schema: string
  /** Connection string of the test database (the schema is not part of it). */
  readonly databaseUrl: string
  /** A pool whose connections have `search_path` set to the schema. */
  readonly pool: pg.Pool
  /** Drops the schema and ends the pool. Safe to call twice. */
  drop(): Promise<void>
}

/**
 * Creates an empty schema in the test database for one test (or one file), so tests can run in
 * parallel without seeing each other's rows, and drops it afterwards.
 */
export async function createTestSchema(label = 't'): Promise<TestSchema> {
  const schema = `t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`
  const databaseUrl = testDatabaseUrl()
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`)
  } finally {
    await admin.end()
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path="${schema}"`, max: 10 })
  let dropped = false
  return {
    schema,
    databaseUrl,
    pool,
    async drop() {
      if (dropped) return
      dropped = true
      await pool.end()
      const c = new pg.Client({ connectionString: databaseUrl })
      await c.connect()
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      } finally {
        await c.end()
      }
    },
  }
}
