import {
  DidCommMessageHandlerRegistry,
  parseMessageType,
  supportsIncomingMessageType,
  type DidCommMessageHandler,
} from '@credo-ts/didcomm'

type MessageClass = DidCommMessageHandler['supportedMessages'][number]

/**
 * Credo's handler registry answers a message type with the FIRST handler registered for it, and its
 * own modules register first, so a handler registered later never runs. This registry keeps a list of
 * preferred handlers that it consults before Credo's, which is how the mediator replaces Credo's
 * coordinate-mediation and forward handlers (and the message classes Credo parses them into) without
 * patching Credo. Registered in place of Credo's registry by `MediatorProtocolsModule`.
 */
export class PreferredHandlerRegistry extends DidCommMessageHandlerRegistry {
  private readonly preferred: DidCommMessageHandler[] = []

  public preferMessageHandler(handler: DidCommMessageHandler): void {
    this.preferred.push(handler)
  }

  public override getHandlerForMessageType(messageType: string): DidCommMessageHandler | undefined {
    return this.findPreferred(messageType)?.handler ?? super.getHandlerForMessageType(messageType)
  }

  public override getMessageClassForMessageType(messageType: string): MessageClass | undefined {
    return this.findPreferred(messageType)?.messageClass ?? super.getMessageClassForMessageType(messageType)
  }

  public override get supportedMessageTypes() {
    const preferredTypes = this.preferred.flatMap((handler) => handler.supportedMessages.map((m) => m.type))
    return [...preferredTypes, ...super.supportedMessageTypes]
  }

  private findPreferred(messageType: string) {
    const incoming = parseMessageType(messageType)
    for (const handler of this.preferred) {
      for (const messageClass of handler.supportedMessages) {
        if (supportsIncomingMessageType(incoming, messageClass.type)) return { handler, messageClass }
      }
    }
    return undefined
  }
}
