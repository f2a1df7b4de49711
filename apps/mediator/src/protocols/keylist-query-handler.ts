import {
  DidCommModuleConfig,
  DidCommOutboundMessageContext,
  DidCommProblemReportError,
  DidCommProblemReportReason,
  type DidCommInboundMessageContext,
  type DidCommMessageHandler,
} from '@credo-ts/didcomm'
import { z } from 'zod'
import { KeylistMessage, KeylistQueryMessage } from './keylist-messages.js'
import { getGrantedMediation } from './mediation-record-lookup.js'
import { formatRecipientKey } from '@mediator/credo-runtime'

/** The largest page a keylist answer carries, and the page size when the wallet asks for none. */
export const MAX_KEYLIST_PAGE = 1_000

const paginateSchema = z
  .object({
    limit: z.number().int().min(1).max(MAX_KEYLIST_PAGE).default(MAX_KEYLIST_PAGE),
    offset: z.number().int().min(0).default(0),
  })
  .default({ limit: MAX_KEYLIST_PAGE, offset: 0 })

/**
 * keylist-query -> keylist (RFC 0211), which Credo 0.6.3 does not implement. Keys come back in the
 * order they were added, as did:key (or base58 when the agent is configured not to use did:key in
 * protocols), with `pagination: {count, offset, remaining}`. `filter` is accepted and ignored: the
 * RFC defines no filter fields.
 */
export class KeylistQueryHandler implements DidCommMessageHandler {
  public readonly supportedMessages = [KeylistQueryMessage]

  public async handle(messageContext: DidCommInboundMessageContext<KeylistQueryMessage>) {
    const connection = messageContext.assertReadyConnection()
    const { agentContext, message } = messageContext
    const paginate = paginateSchema.safeParse(message.paginate)
    if (!paginate.success) {
      throw new DidCommProblemReportError(
        `keylist-query "paginate" must be {limit: 1..${MAX_KEYLIST_PAGE}, offset: >= 0}`,
        { problemCode: DidCommProblemReportReason.MessageParseFailure },
      )
    }
    const { limit, offset } = paginate.data
    const record = await getGrantedMediation(agentContext, connection)
    const useDidKey = agentContext.resolve(DidCommModuleConfig).useDidKeyInProtocols
    const page = record.recipientKeys.slice(offset, offset + limit)
    const keylist = new KeylistMessage({
      threadId: message.threadId,
      keys: page.map((key) => formatRecipientKey(key, useDidKey)),
      pagination: {
        count: page.length,
        offset,
        remaining: Math.max(0, record.recipientKeys.length - offset - page.length),
      },
    })
    return new DidCommOutboundMessageContext(keylist, { agentContext, connection })
  }
}
