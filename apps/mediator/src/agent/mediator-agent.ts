import type { BaseRecord, Kms, Logger, Module, StorageService } from '@credo-ts/core'
import {
  DidCommHttpOutboundTransport,
  DidCommMessageForwardingStrategy,
  DidCommWsOutboundTransport,
  type DidCommQueueTransportRepository,
} from '@credo-ts/didcomm'
import { createCredoAgent } from '@mediator/credo-runtime'

export interface MediatorAgentOptions<Extra extends Record<string, Module>> {
  kms: Kms.KeyManagementService
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one storage instance serves every record class
  storage: StorageService<BaseRecord<any, any, any>>
  queue: DidCommQueueTransportRepository
  /** Public endpoints of the relays (mediation grants and the invitation carry the first ones). */
  endpoints: string[]
  /**
   * Whether Credo's own handler grants every mediation request. Only agents built without the
   * protocols module (some tests) rely on it; in a worker the protocols module decides by policy.
   */
  autoGrantMediation: boolean
  logger?: Logger
  modules: Extra
}

/**
 * The Credo agent inside a worker. It has no inbound transport: inbound messages come from jobs, and
 * answers go back over the relay that holds the wallet's socket (RelayTransportSession). It may still
 * send to agents that have an HTTP or WebSocket endpoint of their own.
 */
export function createMediatorAgent<Extra extends Record<string, Module>>(options: MediatorAgentOptions<Extra>) {
  return createCredoAgent({
    kms: options.kms,
    storage: options.storage,
    logger: options.logger,
    modules: options.modules,
    didcomm: {
      endpoints: options.endpoints,
      transports: { inbound: [], outbound: [new DidCommHttpOutboundTransport(), new DidCommWsOutboundTransport()] },
      // Jobs are processed concurrently by the queue consumer; Credo must not serialise them again.
      processDidCommMessagesConcurrently: true,
      queueTransportRepository: options.queue,
      connections: { autoAcceptConnections: true },
      mediator: {
        autoAcceptMediationRequests: options.autoGrantMediation,
        // Queue only: the queue itself pushes to live sessions anywhere in the cluster (DeliveringQueue).
        messageForwardingStrategy: DidCommMessageForwardingStrategy.QueueOnly,
      },
      mediationRecipient: false,
      credentials: false,
      proofs: false,
      basicMessages: false,
    },
  })
}

export type MediatorAgent = ReturnType<typeof createMediatorAgent<Record<string, Module>>>
