import { EventEmitter } from 'node:events'
import {
  Agent,
  InjectionSymbols,
  type AgentContext,
  type AgentDependencies,
  type DependencyManager,
  type FileSystem,
  type Module,
} from '@credo-ts/core'
import { DidCommEnvelopeService, DidCommModule } from '@credo-ts/didcomm'
import { sodiumKeyManagementModule, type SodiumKeyManagementService } from '../../src/index.js'
import { InMemoryStorageService } from '@mediator/test-support'

/** Nothing in Credo's core or DIDComm paths used here touches the file system. */
class UnusedFileSystem implements FileSystem {
  public readonly dataPath = '/nonexistent'
  public readonly cachePath = '/nonexistent'
  public readonly tempPath = '/nonexistent'
  private fail(): never {
    throw new Error('file system not available in tests')
  }
  public exists = async (): Promise<boolean> => this.fail()
  public createDirectory = async (): Promise<void> => this.fail()
  public copyFile = async (): Promise<void> => this.fail()
  public write = async (): Promise<void> => this.fail()
  public read = async (): Promise<string> => this.fail()
  public delete = async (): Promise<void> => this.fail()
  public downloadToFile = async (): Promise<void> => this.fail()
}

class TestStorageModule implements Module {
  public constructor(private readonly storage: InMemoryStorageService) {}
  public register(dependencyManager: DependencyManager): void {
    dependencyManager.registerInstance(InjectionSymbols.StorageService, this.storage)
  }
}

export interface CredoHarness {
  readonly agent: Agent
  readonly context: AgentContext
  readonly envelope: DidCommEnvelopeService
  readonly storage: InMemoryStorageService
}

/**
 * A real Credo Agent (core + DIDComm modules, our KMS as `modules.kms`) that is constructed but
 * never initialized: enough to resolve DidCommEnvelopeService and its dependencies, with no
 * transports, no network and no storage migrations.
 */
export function createCredoHarness(kms: SodiumKeyManagementService): CredoHarness {
  const storage = new InMemoryStorageService()
  const agent = new Agent({
    dependencies: {
      FileSystem: UnusedFileSystem,
      EventEmitterClass: EventEmitter,
      fetch: globalThis.fetch,
      // No transport is started, so no socket is ever opened.
      WebSocketClass: class {} as unknown as AgentDependencies['WebSocketClass'],
    },
    modules: {
      storage: new TestStorageModule(storage),
      kms: sodiumKeyManagementModule(kms),
      didcomm: new DidCommModule({}),
    },
  })
  return {
    agent,
    context: agent.context,
    envelope: agent.dependencyManager.resolve(DidCommEnvelopeService),
    storage,
  }
}
