import type pg from 'pg'

/**
 * Tables live in the pool's schema (its search_path), so every statement uses unqualified names.
 * All statements are idempotent; they run under a transaction-scoped advisory lock because
 * concurrent `CREATE TABLE IF NOT EXISTS` in Postgres can still fail on the catalog's unique index
 * when several workers start at once.
 */
const DDL = [
  `CREATE TABLE IF NOT EXISTS kms_keys (
     context_correlation_id text NOT NULL,
     key_id text NOT NULL,
     curve text NOT NULL CHECK (curve IN ('Ed25519', 'X25519')),
     public_jwk jsonb NOT NULL,
     sealed_secret bytea NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (context_correlation_id, key_id)
   )`,
  `CREATE TABLE IF NOT EXISTS kms_master_key_check (
     id smallint PRIMARY KEY CHECK (id = 1),
     check_value bytea NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
]

/** Namespace of our advisory locks (two-key form: namespace, hash of the schema name). */
const LOCK_NAMESPACE = 0x6b6d7301

/** Takes the migration lock for the current schema; released when the transaction ends. */
export async function lockSchemaForMigration(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [LOCK_NAMESPACE])
}

export async function createTables(client: pg.PoolClient): Promise<void> {
  for (const statement of DDL) await client.query(statement)
}
