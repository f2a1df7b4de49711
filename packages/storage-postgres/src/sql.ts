import { createHash } from 'node:crypto'
import { RECORDS_TABLE } from './migrations.js'

/**
 * Every statement the service sends. Fixed statements have fixed names, so pg prepares each once per
 * connection and then only binds and executes it (one round trip, no re-parse). All values travel as
 * parameters; only the shape of a WQL query changes the text.
 */
export interface Statement {
  readonly name: string
  readonly text: string
}

const SELECT_COLUMNS = 'id, value, tags, version'

export const insertRecord: Statement = {
  name: 'credo_records_insert',
  text: `INSERT INTO ${RECORDS_TABLE} (context, type, id, value, tags, created_at, updated_at)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, COALESCE($6::timestamptz, now()), $7::timestamptz)
    ON CONFLICT (context, type, id) DO NOTHING
    RETURNING version`,
}

/**
 * Writes the record only if it is still at the version the caller read ($7), or unconditionally
 * when $7 is null (a copy whose version is unknown). The second column tells a missing record from
 * a stale copy in the same round trip.
 */
export const updateRecord: Statement = {
  name: 'credo_records_update',
  text: `WITH updated AS (
      UPDATE ${RECORDS_TABLE}
      SET value = $4::jsonb, tags = $5::jsonb, updated_at = $6::timestamptz, version = version + 1
      WHERE context = $1 AND type = $2 AND id = $3 AND ($7::integer IS NULL OR version = $7::integer)
      RETURNING version
    )
    SELECT (SELECT version FROM updated) AS version,
      EXISTS (SELECT 1 FROM ${RECORDS_TABLE} WHERE context = $1 AND type = $2 AND id = $3) AS found`,
}

/** The write inside `updateByIdWithLock`: the row is locked, so no version check is needed. */
export const updateLockedRecord: Statement = {
  name: 'credo_records_update_locked',
  text: `UPDATE ${RECORDS_TABLE}
    SET value = $4::jsonb, tags = $5::jsonb, updated_at = $6::timestamptz, version = version + 1
    WHERE context = $1 AND type = $2 AND id = $3
    RETURNING version`,
}

export const deleteRecord: Statement = {
  name: 'credo_records_delete',
  text: `DELETE FROM ${RECORDS_TABLE} WHERE context = $1 AND type = $2 AND id = $3 RETURNING version`,
}

export const deleteContext: Statement = {
  name: 'credo_records_delete_context',
  text: `DELETE FROM ${RECORDS_TABLE} WHERE context = $1`,
}

export const getRecord: Statement = {
  name: 'credo_records_get',
  text: `SELECT ${SELECT_COLUMNS} FROM ${RECORDS_TABLE} WHERE context = $1 AND type = $2 AND id = $3`,
}

export const getRecordForUpdate: Statement = {
  name: 'credo_records_get_for_update',
  text: `${getRecord.text} FOR UPDATE`,
}

export const getAllRecords: Statement = {
  name: 'credo_records_get_all',
  text: `SELECT ${SELECT_COLUMNS} FROM ${RECORDS_TABLE} WHERE context = $1 AND type = $2 ORDER BY seq`,
}

/**
 * Inserts the record only into a context that has no records at all, and never over an existing
 * one: used to stamp a brand-new store with Credo's storage version.
 */
export const insertIntoEmptyContext: Statement = {
  name: 'credo_records_insert_into_empty_context',
  text: `INSERT INTO ${RECORDS_TABLE} (context, type, id, value, tags, created_at, updated_at)
    SELECT $1, $2, $3, $4::jsonb, $5::jsonb, $6::timestamptz, $6::timestamptz
    WHERE NOT EXISTS (SELECT 1 FROM ${RECORDS_TABLE} WHERE context = $1)
    ON CONFLICT (context, type, id) DO NOTHING
    RETURNING version`,
}

/**
 * `findByQuery`: $1 context, $2 type, then the WQL parameters, then limit and offset when given.
 * Order is insertion order, like Credo's in-memory storage.
 */
export function findByQueryText(condition: string, paging: { limitParam?: number; offsetParam?: number }): string {
  let text = `SELECT ${SELECT_COLUMNS} FROM ${RECORDS_TABLE} WHERE context = $1 AND type = $2`
  if (condition !== 'TRUE') text += ` AND ${condition}`
  text += ' ORDER BY seq'
  if (paging.limitParam !== undefined) text += ` LIMIT $${paging.limitParam}`
  if (paging.offsetParam !== undefined) text += ` OFFSET $${paging.offsetParam}`
  return text
}

const MAX_NAMED_QUERY_SHAPES = 512
const queryNames = new Map<string, string>()

/**
 * A stable statement name for a query text, so repeated queries of one shape are prepared once per
 * connection. Credo's queries come from a fixed set of call sites, so the shapes are few; past a
 * bound (a caller building unbounded shapes) statements are sent unnamed instead of piling up.
 */
export function statementNameFor(text: string): string | undefined {
  const known = queryNames.get(text)
  if (known !== undefined) return known
  if (queryNames.size >= MAX_NAMED_QUERY_SHAPES) return undefined
  const name = `credo_records_q_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`
  queryNames.set(text, name)
  return name
}
