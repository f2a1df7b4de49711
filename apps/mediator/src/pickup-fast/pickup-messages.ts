import { randomUUID } from 'node:crypto'

/**
 * Pickup v2 `messages-received`, `live-delivery-change` and `status` as plain JSON, accepting exactly a
 * subset of what Credo 0.6.3 accepts (its message classes after class-transformer and class-validator)
 * and writing what Credo writes (DidCommStatusV2Message.toJSON). Anything outside the subset is left
 * to Credo, never rejected here.
 */

const PICKUP_V2 = 'https://didcomm.org/messagepickup/2.0'
// The legacy prefix; Credo rewrites it to the one above before it looks up the handler.
const PICKUP_V2_LEGACY = 'did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/messagepickup/2.0'
const bothPrefixes = (name: string): ReadonlySet<string> => new Set([`${PICKUP_V2}/${name}`, `${PICKUP_V2_LEGACY}/${name}`])

export const MESSAGES_RECEIVED_TYPES = bothPrefixes('messages-received')
export const LIVE_DELIVERY_CHANGE_TYPES = bothPrefixes('live-delivery-change')
export const STATUS_TYPE = `${PICKUP_V2}/status`

/** Credo's message id rule (BaseDidCommMessage `@Matches`), unanchored as Credo's is. */
const MESSAGE_ID = /[-_./a-zA-Z0-9]{8,64}/

export interface MessagesReceived {
  kind: 'messages-received'
  /** Also the thread id of the reply: a message without `~thread` starts its own thread. */
  id: string
  messageIds: string[]
}

/** `live-delivery-change` turning live mode on (turning it off is left to Credo: wallets rarely do). */
export interface LiveModeOn {
  kind: 'live-mode-on'
  id: string
}

export type FastPickupRequest = MessagesReceived | LiveModeOn

/**
 * The message as one of the two requests the fast path answers, or undefined. The only properties
 * accepted are the type's own, `@type`, `@id` and a `~transport` that is exactly a return route for all
 * messages: that is what Credo's wallets send (their classes set it) and the one case where Credo
 * answers on the inbound socket. A `~thread`, or any other decorator, goes through Credo.
 */
export function readFastPickupRequest(plaintext: unknown): FastPickupRequest | undefined {
  if (plaintext === null || typeof plaintext !== 'object' || Array.isArray(plaintext)) return undefined
  const message = plaintext as Record<string, unknown>
  const type = message['@type']
  if (typeof type !== 'string') return undefined
  const ownKey = MESSAGES_RECEIVED_TYPES.has(type) ? 'message_id_list' : LIVE_DELIVERY_CHANGE_TYPES.has(type) ? 'live_delivery' : undefined
  if (!ownKey) return undefined
  for (const key of Object.keys(message)) if (key !== ownKey && key !== '@type' && key !== '@id' && key !== '~transport') return undefined
  const id = message['@id']
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) return undefined
  if (!isReturnRouteAll(message['~transport'])) return undefined
  if (ownKey === 'live_delivery') return message.live_delivery === true ? { kind: 'live-mode-on', id } : undefined
  // Credo only checks @IsArray(); ids that are not strings are Credo's to handle.
  const ids = message.message_id_list
  if (!Array.isArray(ids) || !ids.every((i): i is string => typeof i === 'string')) return undefined
  return { kind: 'messages-received', id, messageIds: ids }
}

/** A messages-received the fast path answers, or undefined. */
export function readMessagesReceived(plaintext: unknown): MessagesReceived | undefined {
  const request = readFastPickupRequest(plaintext)
  return request?.kind === 'messages-received' ? request : undefined
}

function isReturnRouteAll(transport: unknown): boolean {
  if (transport === null || typeof transport !== 'object' || Array.isArray(transport)) return false
  return Object.keys(transport).length === 1 && (transport as Record<string, unknown>).return_route === 'all'
}

export interface StatusOptions {
  /** Set when the status answers a live-delivery-change, as Credo sets it. */
  liveDelivery?: boolean
  id?: string
  now?: Date
}

/**
 * The `status` Credo answers a messages-received or a live-delivery-change with, property for property.
 * Credo 0.6.3's date transformer turns the absent `newest_received_time` / `oldest_received_time` into
 * "now" when it serialises, so they are written here too (wallets ignore them).
 */
export function statusMessageJson(threadId: string, messageCount: number, options: StatusOptions = {}) {
  const time = (options.now ?? new Date()).toISOString()
  return {
    '@type': STATUS_TYPE,
    '@id': options.id ?? randomUUID(),
    message_count: messageCount,
    newest_received_time: time,
    oldest_received_time: time,
    ...(options.liveDelivery === undefined ? {} : { live_delivery: options.liveDelivery }),
    '~thread': { thid: threadId },
    '~transport': { return_route: 'all' },
  }
}
