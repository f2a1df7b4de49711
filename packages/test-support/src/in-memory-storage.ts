import {
  JsonTransformer,
  RecordDuplicateError,
  RecordNotFoundError,
  StorageVersionRecord,
  type AgentContext,
  type BaseRecord,
  type BaseRecordConstructor,
  type Query,
  type QueryOptions,
  type StorageService,
} from '@credo-ts/core'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- one store serves every record class, as Credo's own does
type AnyRecord = BaseRecord<any, any, any>
type Tags = Record<string, unknown>
interface Stored {
  value: Record<string, unknown>
  tags: Tags
}

/**
 * The smallest honest in-memory StorageService, for the stock-Credo baseline of the forward benchmark
 * and for tests that must not depend on our Postgres storage (the KMS's own tests). Credo's own
 * InMemoryStorageService lives in its test utilities, which are not published. Like
 * Credo's, it stores the JSON form of every record with its tags and rebuilds a record instance on
 * every read, so its CPU cost per read is that of Credo's, not that of handing out live objects.
 */
export class InMemoryStorageService implements StorageService<AnyRecord> {
  public readonly supportsCursorPagination = false
  private readonly contexts = new Map<string, Map<string, Map<string, Stored>>>()

  /** A fresh context must hold Credo's current storage version, or `initialize()` refuses to start. */
  public provision(contextCorrelationId: string): void {
    const record = new StorageVersionRecord({ storageVersion: StorageVersionRecord.frameworkStorageVersion })
    this.table(contextCorrelationId, record.type).set(record.id, this.encode(record))
  }

  public async save(agentContext: AgentContext, record: AnyRecord): Promise<void> {
    record.updatedAt = new Date()
    const table = this.table(agentContext.contextCorrelationId, record.type)
    if (table.has(record.id)) {
      throw new RecordDuplicateError(`Record with id ${record.id} already exists`, { recordType: record.type })
    }
    table.set(record.id, this.encode(record))
  }

  public async update(agentContext: AgentContext, record: AnyRecord): Promise<void> {
    record.updatedAt = new Date()
    const table = this.table(agentContext.contextCorrelationId, record.type)
    if (!table.has(record.id)) throw notFound(record.id, record.type)
    table.set(record.id, this.encode(record))
  }

  public async delete(agentContext: AgentContext, record: AnyRecord): Promise<void> {
    if (!this.table(agentContext.contextCorrelationId, record.type).delete(record.id)) throw notFound(record.id, record.type)
  }

  public async deleteById(agentContext: AgentContext, recordClass: BaseRecordConstructor<AnyRecord>, id: string): Promise<void> {
    if (!this.table(agentContext.contextCorrelationId, recordClass.type).delete(id)) throw notFound(id, recordClass.type)
  }

  public async getById(agentContext: AgentContext, recordClass: BaseRecordConstructor<AnyRecord>, id: string): Promise<AnyRecord> {
    const stored = this.table(agentContext.contextCorrelationId, recordClass.type).get(id)
    if (!stored) throw notFound(id, recordClass.type)
    return this.decode(stored, recordClass)
  }

  public async getAll(agentContext: AgentContext, recordClass: BaseRecordConstructor<AnyRecord>): Promise<AnyRecord[]> {
    return [...this.table(agentContext.contextCorrelationId, recordClass.type).values()].map((s) => this.decode(s, recordClass))
  }

  public async findByQuery(
    agentContext: AgentContext,
    recordClass: BaseRecordConstructor<AnyRecord>,
    query: Query<AnyRecord>,
    queryOptions?: QueryOptions,
  ): Promise<AnyRecord[]> {
    const offset = queryOptions?.offset ?? 0
    const limit = queryOptions?.limit ?? Number.POSITIVE_INFINITY
    const found: AnyRecord[] = []
    let skipped = 0
    for (const stored of this.table(agentContext.contextCorrelationId, recordClass.type).values()) {
      if (!matches(stored.tags, query as Record<string, unknown>)) continue
      if (skipped++ < offset) continue
      found.push(this.decode(stored, recordClass))
      if (found.length >= limit) break
    }
    return found
  }

  private table(contextCorrelationId: string, type: string): Map<string, Stored> {
    let context = this.contexts.get(contextCorrelationId)
    if (!context) this.contexts.set(contextCorrelationId, (context = new Map()))
    let table = context.get(type)
    if (!table) context.set(type, (table = new Map()))
    return table
  }

  private encode(record: AnyRecord): Stored {
    return { value: JsonTransformer.toJSON(record) as Record<string, unknown>, tags: { ...record.getTags() } }
  }

  private decode(stored: Stored, recordClass: BaseRecordConstructor<AnyRecord>): AnyRecord {
    const record = JsonTransformer.fromJSON(stored.value, recordClass)
    record.replaceTags(stored.tags as never)
    return record
  }
}

function notFound(id: string, type: string): RecordNotFoundError {
  return new RecordNotFoundError(`record with id ${id} not found.`, { recordType: type })
}

/** WQL as Credo's test storage evaluates it: undefined is skipped, arrays must all be contained. */
function matches(tags: Tags, query: Record<string, unknown>): boolean {
  for (const [key, expected] of Object.entries(query)) {
    if (expected === undefined) continue
    if (key === '$and') {
      if (!(expected as Record<string, unknown>[]).every((q) => matches(tags, q))) return false
    } else if (key === '$or') {
      const alternatives = expected as Record<string, unknown>[]
      if (alternatives.length > 0 && !alternatives.some((q) => matches(tags, q))) return false
    } else if (key === '$not') {
      if (matches(tags, expected as Record<string, unknown>)) return false
    } else if (Array.isArray(expected)) {
      const actual = tags[key]
      if (!Array.isArray(actual) || !expected.every((v) => actual.includes(v))) return false
    } else if (tags[key] !== expected) {
      return false
    }
  }
  return true
}
