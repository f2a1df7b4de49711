import type { IncomingHttpHeaders } from 'node:http'

/** Shared by every socket that has nothing to pass on, so such sockets carry no header object of their own. */
export const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

/** Copies the operator-chosen headers (names lower-case) from a request; repeated values joined by ', '. */
export function pickHeaders(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string> {
  if (names.length === 0) return NO_HEADERS
  let picked: Record<string, string> | undefined
  for (const name of names) {
    const v = headers[name]
    if (v === undefined) continue
    picked ??= {}
    picked[name] = Array.isArray(v) ? v.join(', ') : v
  }
  return picked ?? NO_HEADERS
}
