import type { DependencyManager, Module } from '@credo-ts/core'
import { DidCommMessagePickupSessionService } from '@credo-ts/didcomm'
import type { ClusterPickupSessionService } from '../pickup/cluster-pickup-session-service.js'
import { registerCachingDocumentService, type CreatedDidCache } from '../pickup-fast/created-did-cache.js'

/**
 * Credo module with the services that make one Credo agent a worker of the cluster. It must be listed
 * after the DIDComm module, so that its registrations replace DIDComm's own.
 */
export class ClusterModule implements Module {
  public constructor(
    private readonly pickupSessions: ClusterPickupSessionService,
    /** When given, our own DIDs are resolved through this per-process cache (docs/forward-path.md). */
    private readonly createdDids?: CreatedDidCache,
  ) {}

  public register(dependencyManager: DependencyManager): void {
    dependencyManager.registerInstance(DidCommMessagePickupSessionService, this.pickupSessions)
    if (this.createdDids) registerCachingDocumentService(dependencyManager, this.createdDids)
  }
}
