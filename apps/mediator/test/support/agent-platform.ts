import { randomBytes } from 'node:crypto'
import { SodiumKeyManagementService } from '@mediator/kms'
import { PostgresStorageService } from '@mediator/storage-postgres'
import { createTestSchema, type TestSchema } from '@mediator/test-support'

export interface AgentPlatform {
  db: TestSchema
  kms: SodiumKeyManagementService
  storage: PostgresStorageService
}

/**
 * What a Credo agent of a test or benchmark stands on: its own schema, our KMS with a random master
 * key and our storage, provisioned so `Agent.initialize()` works on it.
 */
export async function agentPlatform(label: string): Promise<AgentPlatform> {
  const db = await createTestSchema(label)
  const kms = await SodiumKeyManagementService.create({ pool: db.pool, masterKey: new Uint8Array(randomBytes(32)) })
  const storage = await PostgresStorageService.create({ pool: db.pool })
  await storage.provisionContext('default')
  return { db, kms, storage }
}
