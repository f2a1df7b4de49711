import { AgentContext, DependencyManager } from '@credo-ts/core'
import { createTestSchema, type TestSchema } from '@mediator/test-support'
import pg from 'pg'
import { PostgresStorageService } from '../src/index.js'

/** A real Credo agent context; the storage only reads its contextCorrelationId. */
export function agentContextFor(contextCorrelationId: string): AgentContext {
  return new AgentContext({ dependencyManager: new DependencyManager(), contextCorrelationId })
}

export interface StorageFixture {
  readonly schema: TestSchema
  readonly storage: PostgresStorageService
  /** Another service on its own pool over the same schema, as a second worker process would have. */
  secondWorker(): Promise<PostgresStorageService>
  drop(): Promise<void>
}

/** A fresh schema with a migrated storage service on it. */
export async function createStorageFixture(label: string): Promise<StorageFixture> {
  const schema = await createTestSchema(label)
  const storage = await PostgresStorageService.create({ pool: schema.pool })
  const extra: PostgresStorageService[] = []
  return {
    schema,
    storage,
    async secondWorker() {
      const worker = await PostgresStorageService.create({ pool: poolOn(schema, 4), ownsPool: true })
      extra.push(worker)
      return worker
    },
    async drop() {
      await Promise.all(extra.map((w) => w.close()))
      await storage.close()
      await schema.drop()
    },
  }
}

/** A separate pool on the test schema (the schema's own pool is shared by its owner). */
export function poolOn(schema: TestSchema, max = 2): pg.Pool {
  return new pg.Pool({ connectionString: schema.databaseUrl, options: `-c search_path="${schema.schema}"`, max })
}
