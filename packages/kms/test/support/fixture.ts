import { randomBytes } from 'node:crypto'
import { AgentContext, DependencyManager } from '@credo-ts/core'
import { createTestSchema, type TestSchema } from '@mediator/test-support'
import { SodiumKeyManagementService, type SodiumKeyManagementServiceOptions } from '../../src/index.js'

export const randomMasterKey = (): Uint8Array => new Uint8Array(randomBytes(32))

/** An AgentContext as Credo builds them per tenant; the KMS reads only its contextCorrelationId. */
export function contextFor(contextCorrelationId: string): AgentContext {
  return new AgentContext({ dependencyManager: new DependencyManager(), contextCorrelationId })
}

export interface KmsFixture {
  readonly schema: TestSchema
  readonly masterKey: Uint8Array
  readonly kms: SodiumKeyManagementService
  /** Another KMS instance on the same schema, as a second worker would have. */
  openAnother(options?: SodiumKeyManagementServiceOptions & { masterKey?: Uint8Array }): Promise<SodiumKeyManagementService>
  teardown(): Promise<void>
}

export async function createKmsFixture(label: string): Promise<KmsFixture> {
  const schema = await createTestSchema(label)
  const masterKey = randomMasterKey()
  const opened: SodiumKeyManagementService[] = []
  const open = async (options: SodiumKeyManagementServiceOptions & { masterKey?: Uint8Array } = {}) => {
    const kms = await SodiumKeyManagementService.create({ pool: schema.pool, ...options, masterKey: options.masterKey ?? masterKey })
    opened.push(kms)
    return kms
  }
  const kms = await open()
  return {
    schema,
    masterKey,
    kms,
    openAnother: open,
    async teardown() {
      for (const instance of opened) instance.close()
      await schema.drop()
    },
  }
}
