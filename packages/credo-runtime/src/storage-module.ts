import { InjectionSymbols, type BaseRecord, type DependencyManager, type Module, type StorageService } from '@credo-ts/core'

/**
 * Registers a StorageService instance with Credo. Credo has no option for it: without this module the
 * Agent constructor throws "Missing required dependency: 'StorageService'".
 */
export class StorageServiceModule implements Module {
  // Credo's StorageService is generic over the record type; one instance serves every record class.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  public constructor(private readonly storageService: StorageService<BaseRecord<any, any, any>>) {}

  public register(dependencyManager: DependencyManager): void {
    dependencyManager.registerInstance(InjectionSymbols.StorageService, this.storageService)
  }
}
