import type pg from 'pg'
import { PostgresStorageError } from './errors.js'

export const RECORDS_TABLE = 'credo_records'
export const MIGRATIONS_TABLE = 'credo_records_migrations'

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

/**
 * The schema, as an append-only list: a released migration is never edited, a change is a new entry.
 * Tables are created unqualified, i.e. in the first schema of the pool's search_path.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'records',
    sql: `
      CREATE TABLE ${RECORDS_TABLE} (
        -- Insertion order: Credo expects query results in the order records were saved.
        seq bigint GENERATED ALWAYS AS IDENTITY,
        context text NOT NULL,
        type text NOT NULL,
        id text NOT NULL,
        value jsonb NOT NULL,
        tags jsonb NOT NULL DEFAULT '{}'::jsonb,
        -- Bumped by every write; an update names the version it was read at (optimistic locking).
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT ${RECORDS_TABLE}_pkey PRIMARY KEY (context, type, id)
      );
      CREATE INDEX ${RECORDS_TABLE}_context_type_seq_idx ON ${RECORDS_TABLE} (context, type, seq);
      CREATE INDEX ${RECORDS_TABLE}_tags_idx ON ${RECORDS_TABLE} USING gin (tags jsonb_path_ops);
    `,
  },
  {
    version: 2,
    name: 'tag lookups without a pending list',
    sql: `
      -- Tag lookups (the connection of every authcrypted message, the mediation of every forward)
      -- far outnumber writes. With fastupdate, new index entries wait in a pending list that every
      -- lookup reads through until a vacuum merges it: a mediator onboarding wallets paid 1-2 ms per
      -- lookup (and 56 ms of Postgres CPU per wallet going live) until autovacuum came round.
      ALTER INDEX ${RECORDS_TABLE}_tags_idx SET (fastupdate = off);
      SELECT gin_clean_pending_list('${RECORDS_TABLE}_tags_idx'::regclass);
      -- Fresh statistics as the table grows: until the planner knows the table is large, it filters
      -- every record of the type through the (context, type) index instead of using the tag index.
      ALTER TABLE ${RECORDS_TABLE} SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 500);
    `,
  },
]

export interface MigrationResult {
  readonly schema: string
  /** Versions applied by this call (empty when another process had already done it). */
  readonly applied: number[]
  /** Highest version present in the database afterwards. */
  readonly currentVersion: number
}

// Two-key advisory lock: a fixed class id for "storage migrations" and the schema name's hash, so
// that migrations of different schemas in one database do not wait for each other.
const LOCK_CLASS_ID = 0x43524544 // 'CRED'

/**
 * Brings the schema up to date. Safe to call from many processes at once: the whole run is one
 * transaction under a transaction-level advisory lock, so one process migrates while the others
 * wait, then find nothing left to do. A failed migration rolls back entirely and releases the lock.
 */
export async function runMigrations(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const client = await pool.connect()
  let released = false
  try {
    await client.query('BEGIN')
    const { rows } = await client.query<{ schema: string | null }>('SELECT current_schema() AS schema')
    const schema = rows[0]?.schema
    if (!schema) {
      throw new PostgresStorageError(
        'No schema to migrate: the first schema of the search_path does not exist (create it, or fix the pool\'s search_path)',
      )
    }
    await client.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2)::int4)', [LOCK_CLASS_ID, schema])
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`)
    const done = await client.query<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE}`)
    const appliedBefore = new Set(done.rows.map((r) => r.version))
    const applied: number[] = []
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (appliedBefore.has(migration.version)) continue
      await client.query(migration.sql)
      await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)`, [migration.version, migration.name])
      applied.push(migration.version)
    }
    await client.query('COMMIT')
    // A newer release may have migrated further; that is fine as long as it only added things.
    const currentVersion = Math.max(0, ...appliedBefore, ...applied)
    return { schema, applied, currentVersion }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    // The connection may be in an unknown state; do not give it back to the pool.
    client.release(true)
    released = true
    if (error instanceof PostgresStorageError) throw error
    throw new PostgresStorageError('Storage migration failed', { cause: error as Error })
  } finally {
    if (!released) client.release()
  }
}
