import type { AgentContext, DependencyManager, Module } from '@credo-ts/core'
import { DidCommFeatureRegistry, DidCommMessageHandlerRegistry, DidCommProtocol } from '@credo-ts/didcomm'
import type { Registry } from 'prom-client'
import type { Logger } from '@mediator/config'
import { ForwardHandler } from './forward-handler.js'
import { KeylistQueryHandler } from './keylist-query-handler.js'
import { KeylistUpdateHandler } from './keylist-update-handler.js'
import { KeylistUpdater } from './keylist-updater.js'
import { MediationCoordinator } from './mediation-coordinator.js'
import type { MediationPolicy } from './mediation-policy.js'
import { MediationRequestHandler } from './mediation-request-handler.js'
import { PreferredHandlerRegistry } from './preferred-handler-registry.js'
import { ProtocolMetrics } from './protocol-metrics.js'

export interface MediatorProtocolsOptions {
  policy: MediationPolicy
  /** The worker's metrics registry; the protocol counters are added to it. */
  registry: Registry
  logger: Logger
}

/**
 * The mediator side of coordinate-mediation 1.0 and routing 1.0 as the cluster needs them, in place
 * of Credo's: mediation by policy (grant or deny), keylist-update with every RFC result and no lost
 * keys under concurrent writers, keylist-query with pagination, forward with a clear dead letter for
 * an unknown key. List it after the `didcomm` module: it replaces Credo's message handler registry
 * with one where these handlers come first. Pickup v1/v2, connections, DID exchange, out-of-band,
 * trust ping and discover features stay Credo's.
 */
export class MediatorProtocolsModule implements Module {
  public readonly registry = new PreferredHandlerRegistry()
  public readonly metrics: ProtocolMetrics

  public constructor(private readonly options: MediatorProtocolsOptions) {
    this.metrics = new ProtocolMetrics(options.registry)
  }

  public register(dependencyManager: DependencyManager): void {
    dependencyManager.registerInstance(DidCommMessageHandlerRegistry, this.registry)
  }

  public async initialize(agentContext: AgentContext): Promise<void> {
    const { policy, logger } = this.options
    const log = logger.child({ component: 'protocols' })
    const coordinator = new MediationCoordinator(policy, this.metrics, log)
    const updater = new KeylistUpdater({ metrics: this.metrics, logger: log })
    this.registry.preferMessageHandler(new MediationRequestHandler(coordinator))
    this.registry.preferMessageHandler(new KeylistUpdateHandler(updater, log))
    this.registry.preferMessageHandler(new KeylistQueryHandler())
    this.registry.preferMessageHandler(new ForwardHandler(this.metrics, log))

    // Credo registers coordinate-mediation as a feature but neither routing nor trust ping, so
    // discover-features would not tell a wallet that this agent forwards and answers pings.
    agentContext
      .resolve(DidCommFeatureRegistry)
      .register(
        new DidCommProtocol({ id: 'https://didcomm.org/routing/1.0', roles: ['mediator'] }),
        new DidCommProtocol({ id: 'https://didcomm.org/trust_ping/1.0', roles: ['receiver'] }),
      )
    log.info({ policy: policy.name }, 'mediator protocols ready')
  }
}
