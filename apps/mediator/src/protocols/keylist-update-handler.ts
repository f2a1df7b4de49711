import {
  DidCommKeylistUpdateResponseMessage,
  DidCommOutboundMessageContext,
  DidCommProblemReportError,
  DidCommProblemReportReason,
  type DidCommInboundMessageContext,
  type DidCommMessageHandler,
} from '@credo-ts/didcomm'
import { z } from 'zod'
import type { Logger } from '@mediator/config'
import { KeylistUpdateRequestMessage } from './keylist-messages.js'
import type { KeylistUpdater } from './keylist-updater.js'
import { getGrantedMediation } from './mediation-record-lookup.js'

/** More entries than this in one keylist-update is refused as a whole (a problem report). */
export const MAX_KEYLIST_UPDATES = 1_000

const updatesSchema = z.array(z.unknown()).min(1).max(MAX_KEYLIST_UPDATES)

/** keylist-update -> keylist-update-response with one result per entry, in the order received. */
export class KeylistUpdateHandler implements DidCommMessageHandler {
  public readonly supportedMessages = [KeylistUpdateRequestMessage]

  public constructor(
    private readonly updater: KeylistUpdater,
    private readonly logger: Logger,
  ) {}

  public async handle(messageContext: DidCommInboundMessageContext<KeylistUpdateRequestMessage>) {
    const connection = messageContext.assertReadyConnection()
    const { agentContext, message } = messageContext
    const updates = updatesSchema.safeParse(message.updates)
    if (!updates.success) {
      throw new DidCommProblemReportError(
        `keylist-update needs "updates": an array of 1 to ${MAX_KEYLIST_UPDATES} entries`,
        { problemCode: DidCommProblemReportReason.MessageParseFailure },
      )
    }
    const record = await getGrantedMediation(agentContext, connection)
    const log = this.logger.child({ connectionId: connection.id, mediationId: record.id, threadId: message.threadId })
    const keylist = await this.updater.apply(agentContext, record, this.updater.plan(updates.data), log)
    const response = new DidCommKeylistUpdateResponseMessage({ keylist, threadId: message.threadId })
    return new DidCommOutboundMessageContext(response, { agentContext, connection })
  }
}
