/**
 * Test-only StorageService: Credo's envelope service looks recipient keys up in records (DIDs,
 * mediator routing, out-of-band) before it asks the KMS, so driving it needs some storage. The
 * product uses packages/storage-postgres; this keeps the KMS tests independent of it.
 */
import {
  RecordDuplicateError,
  RecordNotFoundError,
  type AgentContext,
  type BaseRecord,
  type BaseRecordConstructor,
  type Query,
  type QueryOptions,
  type StorageService,
} from '@credo-ts/core'

// Credo's StorageService is generic over any record; `any` mirrors its own declaration.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRecord = BaseRecord<any, any, any>

export class InMemoryStorageService<T extends AnyRecord = AnyRecord> implements StorageService<T> {
  public readonly supportsCursorPagination = false
  private readonly records = new Map<string, T>()

  private key(agentContext: AgentContext, type: string, id: string): string {
    return `${agentContext.contextCorrelationId}\u0000${type}\u0000${id}`
  }

  public async save(agentContext: AgentContext, record: T): Promise<void> {
    const key = this.key(agentContext, record.type, record.id)
    if (this.records.has(key)) throw new RecordDuplicateError(`Record ${record.id} exists`, { recordType: record.type })
    this.records.set(key, record)
  }

  public async update(agentContext: AgentContext, record: T): Promise<void> {
    const key = this.key(agentContext, record.type, record.id)
    if (!this.records.has(key)) throw new RecordNotFoundError(`Record ${record.id} not found`, { recordType: record.type })
    this.records.set(key, record)
  }

  public async delete(agentContext: AgentContext, record: T): Promise<void> {
    await this.deleteById(agentContext, { type: record.type } as BaseRecordConstructor<T>, record.id)
  }

  public async deleteById(agentContext: AgentContext, recordClass: BaseRecordConstructor<T>, id: string): Promise<void> {
    if (!this.records.delete(this.key(agentContext, recordClass.type, id))) {
      throw new RecordNotFoundError(`Record ${id} not found`, { recordType: recordClass.type })
    }
  }

  public async getById(agentContext: AgentContext, recordClass: BaseRecordConstructor<T>, id: string): Promise<T> {
    const record = this.records.get(this.key(agentContext, recordClass.type, id))
    if (!record) throw new RecordNotFoundError(`Record ${id} not found`, { recordType: recordClass.type })
    return record
  }

  public async getAll(agentContext: AgentContext, recordClass: BaseRecordConstructor<T>): Promise<T[]> {
    const prefix = this.key(agentContext, recordClass.type, '')
    return [...this.records.entries()].filter(([k]) => k.startsWith(prefix)).map(([, r]) => r)
  }

  public async findByQuery(
    agentContext: AgentContext,
    recordClass: BaseRecordConstructor<T>,
    query: Query<T>,
    options?: QueryOptions,
  ): Promise<T[]> {
    const all = (await this.getAll(agentContext, recordClass)).filter((r) =>
      matches(r.getTags() as Record<string, unknown>, query as QueryShape),
    )
    const offset = options?.offset ?? 0
    return all.slice(offset, options?.limit === undefined ? undefined : offset + options.limit)
  }
}

interface QueryShape {
  $and?: QueryShape[]
  $or?: QueryShape[]
  $not?: QueryShape
  [tag: string]: unknown
}

function matches(tags: Record<string, unknown>, query: QueryShape): boolean {
  const { $and, $or, $not, ...simple } = query
  if ($and && !$and.every((q) => matches(tags, q))) return false
  if ($or && !$or.some((q) => matches(tags, q))) return false
  if ($not && matches(tags, $not)) return false
  return Object.entries(simple).every(([name, value]) => {
    if (value === undefined) return true
    const actual = tags[name]
    if (Array.isArray(value)) return Array.isArray(actual) && value.every((v) => actual.includes(v))
    return actual === value
  })
}
