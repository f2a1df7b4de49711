import { randomUUID } from 'node:crypto'

/**
 * Pickup v2 `messages-received` and `status` as plain JSON, accepting exactly a subset of what Credo
 * 0.6.3 accepts (DidCommMessagesReceivedV2Message after class-transformer and class-validator) and
 * writing what Credo writes (DidCommStatusV2Message.toJSON). Anything outside the subset is left to
 * Credo, never rejected here.
 */

export const MESSAGES_RECEIVED_TYPES: ReadonlySet<string> = new Set([
  'https://didcomm.org/messagepickup/2.0/messages-received',
  // The legacy prefix; Credo rewrites it to the one above before it looks up the handler.
  'did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/messagepickup/2.0/messages-received',
])

export const STATUS_TYPE = 'https://didcomm.org/messagepickup/2.0/status'

/** Credo's message id rule (BaseDidCommMessage `@Matches`), unanchored as Credo's is. */
const MESSAGE_ID = /[-_./a-zA-Z0-9]{8,64}/

/**
 * The only properties accepted. `~transport` must be exactly a return route for all messages, which
 * is what Credo's wallets send (the class sets it) and the one case where Credo answers on the
 * inbound socket; a `~thread`, or any other decorator, goes through Credo.
 */
const KEYS: ReadonlySet<string> = new Set(['@type', '@id', 'message_id_list', '~transport'])

export interface MessagesReceived {
  /** Also the thread id of the reply: a message without `~thread` starts its own thread. */
  id: string
  messageIds: string[]
}

export function readMessagesReceived(plaintext: unknown): MessagesReceived | undefined {
  if (plaintext === null || typeof plaintext !== 'object' || Array.isArray(plaintext)) return undefined
  const message = plaintext as Record<string, unknown>
  const type = message['@type']
  if (typeof type !== 'string' || !MESSAGES_RECEIVED_TYPES.has(type)) return undefined
  for (const key of Object.keys(message)) if (!KEYS.has(key)) return undefined
  const id = message['@id']
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) return undefined
  const transport = message['~transport']
  if (transport === null || typeof transport !== 'object' || Array.isArray(transport)) return undefined
  const transportKeys = Object.keys(transport)
  if (transportKeys.length !== 1 || (transport as Record<string, unknown>).return_route !== 'all') return undefined
  // Credo only checks @IsArray(); ids that are not strings are Credo's to handle.
  const ids = message.message_id_list
  if (!Array.isArray(ids) || !ids.every((i): i is string => typeof i === 'string')) return undefined
  return { id, messageIds: ids }
}

/**
 * The `status` Credo answers a messages-received with, property for property. Credo 0.6.3's date
 * transformer turns the absent `newest_received_time` / `oldest_received_time` into "now" when it
 * serialises, so they are written here too (wallets ignore them).
 */
export function statusMessageJson(threadId: string, messageCount: number, id: string = randomUUID(), now = new Date()) {
  const time = now.toISOString()
  return {
    '@type': STATUS_TYPE,
    '@id': id,
    message_count: messageCount,
    newest_received_time: time,
    oldest_received_time: time,
    '~thread': { thid: threadId },
    '~transport': { return_route: 'all' },
  }
}
