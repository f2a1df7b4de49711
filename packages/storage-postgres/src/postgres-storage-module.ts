import { InjectionSymbols, type AgentContext, type DependencyManager, type Module } from '@credo-ts/core'
import type { PostgresStorageService } from './postgres-storage-service.js'

export interface PostgresStorageModuleOptions {
  /**
   * Stamp the root agent context with Credo's storage version when its store is empty, so that
   * `Agent.initialize()` works on a fresh database. Default true.
   */
  readonly provisionRootContext?: boolean
}

/**
 * Registers a `PostgresStorageService` as Credo's StorageService and keeps contexts provisioned:
 * the root context on `initialize` (before any other module's `onInitializeContext` writes records),
 * new tenant contexts on `onProvisionContext`, and deleted tenants' records on `onDeleteContext`.
 */
export class PostgresStorageModule implements Module {
  public constructor(
    public readonly storage: PostgresStorageService,
    private readonly options: PostgresStorageModuleOptions = {},
  ) {}

  public register(dependencyManager: DependencyManager): void {
    dependencyManager.registerInstance(InjectionSymbols.StorageService, this.storage)
  }

  public async initialize(agentContext: AgentContext): Promise<void> {
    if (this.options.provisionRootContext ?? true) await this.storage.provisionContext(agentContext.contextCorrelationId)
  }

  public async onProvisionContext(agentContext: AgentContext): Promise<void> {
    await this.storage.provisionContext(agentContext.contextCorrelationId)
  }

  public async onDeleteContext(agentContext: AgentContext): Promise<void> {
    await this.storage.deleteContext(agentContext.contextCorrelationId)
  }
}
