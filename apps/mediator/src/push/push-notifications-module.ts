import type { AgentContext, DependencyManager, Module } from '@credo-ts/core'
import { DidCommFeatureRegistry, DidCommMessageHandlerRegistry, DidCommProtocol } from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import { GetDeviceInfoHandler, SetDeviceInfoHandler } from './push-handlers.js'
import type { PushDeviceStore } from './push-device-store.js'
import { PUSH_PROTOCOLS } from './push-messages.js'

/**
 * The mediator side of push-notifications-fcm/1.0 and push-notifications-apns/1.0: wallets store
 * their device (set-device-info) and read it back (get-device-info); both protocols are listed in
 * discover-features. Device info is kept whether or not a push service is configured, so a
 * deployment that adds credentials later notifies wallets that registered before.
 */
export class PushNotificationsModule implements Module {
  public constructor(
    private readonly options: { store: PushDeviceStore; logger: Logger },
  ) {}

  public register(_dependencyManager: DependencyManager): void {
    // Nothing to register: the handlers are added once the message handler registry exists.
  }

  public async initialize(agentContext: AgentContext): Promise<void> {
    const log = this.options.logger.child({ component: 'push-notifications' })
    const handlers = agentContext.resolve(DidCommMessageHandlerRegistry)
    handlers.registerMessageHandler(new SetDeviceInfoHandler(this.options.store, log))
    handlers.registerMessageHandler(new GetDeviceInfoHandler(this.options.store))
    agentContext
      .resolve(DidCommFeatureRegistry)
      .register(
        new DidCommProtocol({ id: PUSH_PROTOCOLS.fcm, roles: ['notification-sender'] }),
        new DidCommProtocol({ id: PUSH_PROTOCOLS.apns, roles: ['notification-sender'] }),
      )
  }
}
