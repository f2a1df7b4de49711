import { DidCommMessage, parseMessageType } from '@credo-ts/didcomm'

/*
 * Coordinate-mediation 1.0 messages the mediator parses itself. They have no class-validator
 * decorators: Credo's JsonTransformer builds them with the wire fields as they are (snake_case, any
 * JSON), and the handlers validate those fields with zod. That way a malformed entry becomes an RFC
 * answer (`client_error`, a problem report) instead of a parse failure for the whole message.
 */

const protocol = 'https://didcomm.org/coordinate-mediation/1.0'

export interface KeylistUpdateEntry {
  recipient_key: string
  action: string
}

/** keylist-update, parsed loosely: `updates` is whatever the wallet sent. */
export class KeylistUpdateRequestMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${protocol}/keylist-update`)
  public override readonly type = KeylistUpdateRequestMessage.type.messageTypeUri

  public updates?: unknown

  public constructor(options?: { id?: string; updates: KeylistUpdateEntry[] }) {
    super()
    if (options) {
      this.id = options.id ?? this.generateId()
      this.updates = options.updates
    }
  }
}

export interface KeylistPaginate {
  limit?: number
  offset?: number
}

/** keylist-query (RFC 0211): `paginate` and `filter` as the wallet sent them. */
export class KeylistQueryMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${protocol}/keylist-query`)
  public override readonly type = KeylistQueryMessage.type.messageTypeUri

  public paginate?: unknown
  public filter?: unknown

  public constructor(options?: { id?: string; paginate?: KeylistPaginate; filter?: Record<string, unknown> }) {
    super()
    if (options) {
      this.id = options.id ?? this.generateId()
      if (options.paginate) this.paginate = options.paginate
      if (options.filter) this.filter = options.filter
    }
  }
}

export interface KeylistPagination {
  count: number
  offset: number
  remaining: number
}

/** keylist: one page of the recipient keys a wallet registered. */
export class KeylistMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${protocol}/keylist`)
  public override readonly type = KeylistMessage.type.messageTypeUri

  public keys: Array<{ recipient_key: string }> = []
  public pagination?: KeylistPagination

  public constructor(options?: { id?: string; threadId: string; keys: string[]; pagination: KeylistPagination }) {
    super()
    if (options) {
      this.id = options.id ?? this.generateId()
      this.keys = options.keys.map((key) => ({ recipient_key: key }))
      this.pagination = options.pagination
      this.setThread({ threadId: options.threadId })
    }
  }
}
