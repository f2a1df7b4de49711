import {
  DidCommMediationRequestMessage,
  DidCommOutboundMessageContext,
  type DidCommInboundMessageContext,
  type DidCommMessageHandler,
} from '@credo-ts/didcomm'
import type { MediationCoordinator } from './mediation-coordinator.js'

/** mediate-request -> mediate-grant or mediate-deny, decided by the mediation policy. */
export class MediationRequestHandler implements DidCommMessageHandler {
  public readonly supportedMessages = [DidCommMediationRequestMessage]

  public constructor(private readonly coordinator: MediationCoordinator) {}

  public async handle(messageContext: DidCommInboundMessageContext<DidCommMediationRequestMessage>) {
    const connection = messageContext.assertReadyConnection()
    const { agentContext, message } = messageContext
    const answer = await this.coordinator.answerRequest(agentContext, connection, message.threadId)
    return new DidCommOutboundMessageContext(answer, { agentContext, connection })
  }
}
