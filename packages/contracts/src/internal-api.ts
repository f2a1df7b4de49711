/**
 * The relay's internal API, used by workers to write to a socket the relay holds. Each status has one
 * meaning, so a caller can tell "the wallet is gone, queue the message" from "try again later".
 */

export const internalApiPaths = {
  send: (socketId: string) => `/sockets/${encodeURIComponent(socketId)}/send`,
  disconnect: (socketId: string) => `/sockets/${encodeURIComponent(socketId)}/disconnect`,
  /**
   * WebSocket upgrade for a worker's channel: the same two calls, with the same statuses, as binary
   * frames on one long-lived connection (see @mediator/relay-channel).
   */
  channel: '/channel',
} as const

/** Longest socket id a relay hands out or accepts (its ids are UUIDs). */
export const MAX_SOCKET_ID_LENGTH = 200
/** Longest close reason a caller may give for a disconnect (WebSocket allows 123 bytes). */
export const MAX_CLOSE_REASON_LENGTH = 120

/**
 * Close codes a worker may ask a relay to use: 1000, the ones a mediator has reason to pick
 * (1001 going away, 1008 policy, 1013 try again later) and the application range.
 */
export function isAllowedCloseCode(code: number): boolean {
  return Number.isInteger(code) && (code === 1000 || code === 1001 || code === 1008 || code === 1013 || (code >= 3000 && code <= 4999))
}

/** Header that carries the shared secret: `Authorization: Bearer <secret>`. */
export const INTERNAL_AUTH_HEADER = 'authorization'

export const SendStatus = {
  /** Written to the socket (or, for a held HTTP request, sent as its response). */
  Written: 200,
  /** A malformed call (empty body, bad close code). */
  BadRequest: 400,
  Unauthorized: 401,
  /** The relay never had a socket with this id. */
  UnknownSocket: 404,
  /** The socket existed and is closed now. */
  Gone: 410,
  TooLarge: 413,
  /** Draining, or the socket's send buffer is over its limit: try later or queue. */
  Unavailable: 503,
} as const
export type SendStatusCode = (typeof SendStatus)[keyof typeof SendStatus]

/** 404 and 410 both mean the socket cannot be written to again; anything else non-2xx is a failure. */
export function isSocketGone(status: number): boolean {
  return status === SendStatus.UnknownSocket || status === SendStatus.Gone
}
