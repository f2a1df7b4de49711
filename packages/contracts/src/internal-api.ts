/**
 * The relay's internal API, used by workers to write to a socket the relay holds. Each status has one
 * meaning, so a caller can tell "the wallet is gone, queue the message" from "try again later".
 */

export const internalApiPaths = {
  send: (socketId: string) => `/sockets/${encodeURIComponent(socketId)}/send`,
  disconnect: (socketId: string) => `/sockets/${encodeURIComponent(socketId)}/disconnect`,
} as const

/** Header that carries the shared secret: `Authorization: Bearer <secret>`. */
export const INTERNAL_AUTH_HEADER = 'authorization'

export const SendStatus = {
  /** Written to the socket (or, for a held HTTP request, sent as its response). */
  Written: 200,
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
