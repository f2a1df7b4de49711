/**
 * Recognises a routing 1.0 `forward` in a decrypted plaintext, accepting exactly a subset of what
 * Credo 0.6.3 accepts (DidCommForwardMessage after class-transformer and class-validator). Anything
 * outside the subset is not rejected here: it is left to Credo, which accepts or rejects it its way.
 */

export const FORWARD_TYPES: ReadonlySet<string> = new Set([
  'https://didcomm.org/routing/1.0/forward',
  // The legacy prefix; Credo rewrites it to the one above before it looks up the handler.
  'did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/routing/1.0/forward',
])

/**
 * Credo's message id rule (BaseDidCommMessage `@Matches`). It is deliberately not anchored: Credo's
 * isn't, and an id Credo accepts must be one we accept.
 */
const MESSAGE_ID = /[-_./a-zA-Z0-9]{8,64}/

/**
 * The only properties a forward may have to stay on the fast path. Decorators (`~thread`,
 * `~transport`, ...) are validated by Credo's classes; rather than re-implement that validation,
 * forwards that carry any go through Credo.
 */
const FORWARD_KEYS: ReadonlySet<string> = new Set(['@type', '@id', 'to', 'msg'])

export interface ForwardMessage {
  id: string
  /** The recipient key as sent (Credo looks it up in mediation keylists verbatim). */
  to: string
  /** The inner envelope, queued for the recipient as is. */
  msg: Record<string, unknown>
}

/**
 * The forward in `plaintext`, or undefined when it is not a forward or not one in the canonical
 * shape (see FORWARD_KEYS and the field rules below, each the rule Credo applies).
 */
export function readForward(plaintext: unknown): ForwardMessage | undefined {
  if (plaintext === null || typeof plaintext !== 'object' || Array.isArray(plaintext)) return undefined
  const message = plaintext as Record<string, unknown>
  const type = message['@type']
  if (typeof type !== 'string' || !FORWARD_TYPES.has(type)) return undefined
  for (const key of Object.keys(message)) if (!FORWARD_KEYS.has(key)) return undefined
  const id = message['@id']
  const { to, msg } = message
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) return undefined
  // Credo: @IsString() plus "Missing required attribute to" for an empty one.
  if (typeof to !== 'string' || to === '') return undefined
  // Credo: @IsObject(), i.e. a non-null object that is not an array.
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return undefined
  return { id, to, msg: msg as Record<string, unknown> }
}
