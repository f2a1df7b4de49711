import {
  RecordDuplicateError,
  RecordNotFoundError,
  StorageVersionRecord,
  type AgentContext,
  type BaseRecordAny,
  type BaseRecordConstructor,
  type Query,
  type QueryOptions,
  type StorageService,
} from '@credo-ts/core'
import type { Logger } from '@mediator/config'
import type pg from 'pg'
import { InvalidQueryError, PostgresStorageError, RecordConcurrencyError } from './errors.js'
import { runMigrations, type MigrationResult } from './migrations.js'
import { decodeRecord, encodeRecord, type RecordRow } from './record-codec.js'
import { forgetVersion, knownVersion, rememberVersion } from './record-versions.js'
import * as sql from './sql.js'
import { wqlToSql, type WqlQuery } from './wql-to-sql.js'

export interface PostgresStorageOptions {
  /**
   * Where the records live. Tables are used unqualified, so the pool's search_path picks the schema
   * (set it with `options: '-c search_path=my_schema'` on the pool).
   */
  readonly pool: pg.Pool
  /** End the pool on `close()`. Set it only when nothing else uses the pool. Default false. */
  readonly ownsPool?: boolean
  /**
   * Run class-validator on every record read, as Credo's Askar storage does. It costs CPU on every
   * read; records are only ever written by Credo itself. Default true.
   */
  readonly validateOnRead?: boolean
  readonly logger?: Logger
}

/** `findByQuery` as a statement: what the service sends to Postgres for a query. */
export interface FindStatement {
  readonly text: string
  readonly values: unknown[]
}

/** The part of a record class a query needs: its storage type. */
export type RecordClassRef = Pick<BaseRecordConstructor<BaseRecordAny>, 'type'>

/** Postgres error codes after which the same work on fresh data may succeed. */
const RETRYABLE_PG_CODES = new Set(['40001', '40P01', '55P03'])

/**
 * Credo's StorageService on Postgres. One instance serves every record class and every agent
 * context (tenant), and any number of instances (workers) can share one schema: writes from a stale
 * copy fail with `RecordConcurrencyError` instead of overwriting a newer version.
 *
 * Every call is one statement on a pooled connection (one round trip), except
 * `updateByIdWithLock`, which holds a row lock in a transaction around the caller's callback.
 */
export class PostgresStorageService<T extends BaseRecordAny = BaseRecordAny> implements StorageService<T> {
  public readonly supportsCursorPagination = false

  private readonly pool: pg.Pool
  private readonly ownsPool: boolean
  private readonly validateOnRead: boolean
  private readonly logger: Logger | undefined
  private migration: Promise<MigrationResult> | undefined
  private closed = false

  public constructor(options: PostgresStorageOptions) {
    this.pool = options.pool
    this.ownsPool = options.ownsPool ?? false
    this.validateOnRead = options.validateOnRead ?? true
    this.logger = options.logger
    if (this.ownsPool) {
      // An idle connection that dies (server restart, network) is reported on the pool; with no
      // listener that would crash the process. The next query simply gets a new connection.
      this.pool.on('error', (error) => this.logger?.warn({ err: error }, 'idle storage connection failed'))
    }
  }

  /** Creates the service and brings the schema up to date. */
  public static async create(options: PostgresStorageOptions): Promise<PostgresStorageService> {
    const service = new PostgresStorageService(options)
    await service.init()
    return service
  }

  /**
   * Runs the schema migrations (under an advisory lock, so many workers may start at once).
   * Idempotent: later calls return the first call's result.
   */
  public init(): Promise<MigrationResult> {
    this.migration ??= runMigrations(this.pool).then(
      (result) => {
        this.logger?.info(
          { schema: result.schema, applied: result.applied, schemaVersion: result.currentVersion },
          result.applied.length > 0 ? 'storage schema migrated' : 'storage schema up to date',
        )
        return result
      },
      (error: unknown) => {
        this.migration = undefined
        throw error
      },
    )
    return this.migration
  }

  /** Ends the pool if this service owns it; otherwise does nothing (the owner ends it). */
  public async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.ownsPool) await this.pool.end()
  }

  public async save(agentContext: AgentContext, record: T): Promise<void> {
    record.updatedAt = new Date()
    const { value, tags } = encodeRecord(record)
    const result = await this.run<{ version: number }>('save', record.type, sql.insertRecord, [
      agentContext.contextCorrelationId,
      record.type,
      record.id,
      value,
      tags,
      record.createdAt ?? null,
      record.updatedAt,
    ])
    const row = result.rows[0]
    if (!row) {
      throw new RecordDuplicateError(`Record with id ${record.id} already exists`, { recordType: record.type })
    }
    rememberVersion(record, row.version)
  }

  public async update(agentContext: AgentContext, record: T): Promise<void> {
    const expectedVersion = knownVersion(record)
    const previousUpdatedAt = record.updatedAt
    record.updatedAt = new Date()
    const { value, tags } = encodeRecord(record)
    const result = await this.run<{ version: number | null; found: boolean }>('update', record.type, sql.updateRecord, [
      agentContext.contextCorrelationId,
      record.type,
      record.id,
      value,
      tags,
      record.updatedAt,
      expectedVersion ?? null,
    ])
    const row = result.rows[0]
    if (row?.version != null) {
      rememberVersion(record, row.version)
      return
    }
    // Nothing was written, so the instance should not claim it was.
    record.updatedAt = previousUpdatedAt
    if (!row?.found) {
      throw new RecordNotFoundError(`record with id ${record.id} not found.`, { recordType: record.type })
    }
    throw new RecordConcurrencyError(
      `record with id ${record.id} was changed by another writer since version ${expectedVersion} was read`,
      { recordType: record.type, recordId: record.id, expectedVersion },
    )
  }

  public async updateByIdWithLock<R extends T>(
    agentContext: AgentContext,
    recordClass: BaseRecordConstructor<R>,
    id: string,
    updateCallback: (record: R) => Promise<R>,
  ): Promise<R> {
    const context = agentContext.contextCorrelationId
    const client = await this.connect('updateByIdWithLock', recordClass.type)
    let broken = false
    try {
      await client.query('BEGIN')
      const locked = await client.query<RecordRow>({ ...sql.getRecordForUpdate, values: [context, recordClass.type, id] })
      const row = locked.rows[0]
      if (!row) throw new RecordNotFoundError(`record with id ${id} not found.`, { recordType: recordClass.type })
      const updated = await updateCallback(decodeRecord(row, recordClass, this.validateOnRead))
      updated.updatedAt = new Date()
      const { value, tags } = encodeRecord(updated)
      const written = await client.query<{ version: number }>({
        ...sql.updateLockedRecord,
        values: [context, recordClass.type, id, value, tags, updated.updatedAt],
      })
      await client.query('COMMIT')
      rememberVersion(updated, written.rows[0]!.version)
      return updated
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true
      })
      if (isPgError(error) && RETRYABLE_PG_CODES.has(error.code)) {
        throw new RecordConcurrencyError(`could not lock record with id ${id}: ${error.message}`, {
          recordType: recordClass.type,
          recordId: id,
          cause: error,
        })
      }
      if (isPgError(error)) throw this.wrap('updateByIdWithLock', recordClass.type, error)
      throw error
    } finally {
      client.release(broken)
    }
  }

  public supportsLocking(_agentContext: AgentContext): boolean {
    return true
  }

  public async delete(agentContext: AgentContext, record: T): Promise<void> {
    await this.deleteRow(agentContext, record.type, record.id)
    forgetVersion(record)
  }

  public async deleteById<R extends T>(agentContext: AgentContext, recordClass: BaseRecordConstructor<R>, id: string): Promise<void> {
    await this.deleteRow(agentContext, recordClass.type, id)
  }

  public async getById<R extends T>(agentContext: AgentContext, recordClass: BaseRecordConstructor<R>, id: string): Promise<R> {
    const result = await this.run<RecordRow>('getById', recordClass.type, sql.getRecord, [
      agentContext.contextCorrelationId,
      recordClass.type,
      id,
    ])
    const row = result.rows[0]
    if (!row) throw new RecordNotFoundError(`record with id ${id} not found.`, { recordType: recordClass.type })
    return decodeRecord(row, recordClass, this.validateOnRead)
  }

  public async getAll<R extends T>(agentContext: AgentContext, recordClass: BaseRecordConstructor<R>): Promise<R[]> {
    const result = await this.run<RecordRow>('getAll', recordClass.type, sql.getAllRecords, [
      agentContext.contextCorrelationId,
      recordClass.type,
    ])
    return result.rows.map((row) => decodeRecord(row, recordClass, this.validateOnRead))
  }

  public async findByQuery<R extends T>(
    agentContext: AgentContext,
    recordClass: BaseRecordConstructor<R>,
    query: Query<R>,
    queryOptions?: QueryOptions,
  ): Promise<R[]> {
    if (queryOptions?.cursor) {
      throw new InvalidQueryError('Cursor pagination is not supported by the Postgres storage; use limit and offset')
    }
    const statement = buildFindStatement(agentContext.contextCorrelationId, recordClass, query, queryOptions)
    const result = await this.run<RecordRow>('findByQuery', recordClass.type, statement, statement.values)
    return result.rows.map((row) => decodeRecord(row, recordClass, this.validateOnRead))
  }

  /**
   * Stamps a new, empty context with Credo's current storage version (`StorageVersionRecord`), which
   * `Agent.initialize()` needs on a fresh store. Writes nothing if the context has any record at all:
   * an existing version is never overwritten, and a store that predates version records must be
   * migrated by Credo, not declared current. Returns whether it wrote the record.
   */
  public async provisionContext(contextCorrelationId: string): Promise<boolean> {
    const record = new StorageVersionRecord({ storageVersion: StorageVersionRecord.frameworkStorageVersion })
    record.updatedAt = record.createdAt
    const { value, tags } = encodeRecord(record)
    const result = await this.run<{ version: number }>('provisionContext', record.type, sql.insertIntoEmptyContext, [
      contextCorrelationId,
      record.type,
      record.id,
      value,
      tags,
      record.createdAt,
    ])
    const provisioned = result.rows.length > 0
    if (provisioned) {
      this.logger?.info(
        { contextCorrelationId, storageVersion: record.storageVersion },
        'provisioned new storage context',
      )
    }
    return provisioned
  }

  /** Deletes every record of a context (a deleted tenant). Returns how many were deleted. */
  public async deleteContext(contextCorrelationId: string): Promise<number> {
    const result = await this.run('deleteContext', '*', sql.deleteContext, [contextCorrelationId])
    return result.rowCount ?? 0
  }

  private async deleteRow(agentContext: AgentContext, type: string, id: string): Promise<void> {
    const result = await this.run('delete', type, sql.deleteRecord, [agentContext.contextCorrelationId, type, id])
    if (result.rows.length === 0) throw new RecordNotFoundError(`record with id ${id} not found.`, { recordType: type })
  }

  private async run<R extends pg.QueryResultRow>(
    operation: string,
    recordType: string,
    statement: { readonly name?: string; readonly text: string },
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>({ name: statement.name, text: statement.text, values })
    } catch (error) {
      throw this.wrap(operation, recordType, error)
    }
  }

  private async connect(operation: string, recordType: string): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect()
    } catch (error) {
      throw this.wrap(operation, recordType, error)
    }
  }

  private wrap(operation: string, recordType: string, error: unknown): PostgresStorageError {
    const cause = error instanceof Error ? error : new Error(String(error))
    return new PostgresStorageError(`Storage ${operation} of ${recordType} failed: ${cause.message}`, { cause })
  }
}

/**
 * The exact statement `findByQuery` sends for a query, exposed so its plan can be inspected
 * (`EXPLAIN`) and so callers can see what a query costs.
 */
export function buildFindStatement(
  contextCorrelationId: string,
  recordClass: RecordClassRef,
  query: Query<BaseRecordAny> | WqlQuery,
  queryOptions?: QueryOptions,
): FindStatement & { readonly name: string | undefined } {
  const values: unknown[] = [contextCorrelationId, recordClass.type]
  const condition = wqlToSql(query as WqlQuery, values)
  const paging: { limitParam?: number; offsetParam?: number } = {}
  const limit = queryOptions?.limit
  const offset = queryOptions?.offset
  if (limit !== undefined) {
    values.push(checkCount('limit', limit))
    paging.limitParam = values.length
  }
  if (offset !== undefined && offset !== 0) {
    values.push(checkCount('offset', offset))
    paging.offsetParam = values.length
  }
  const text = sql.findByQueryText(condition, paging)
  return { name: sql.statementNameFor(text), text, values }
}

function checkCount(what: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidQueryError(`${what} must be a non-negative integer, got ${value}`)
  }
  return value
}

interface PgError extends Error {
  code: string
}

function isPgError(error: unknown): error is PgError {
  return error instanceof Error && typeof (error as Partial<PgError>).code === 'string'
}
