/** The forms `GET /invitation` answers in. */
export type InvitationFormat = 'json' | 'url' | 'html'

/**
 * Picks the form of `GET /invitation`. An explicit `?format=` wins; otherwise a client that asks for
 * `text/html` by name (a browser) gets the page with the QR code, and everything else — `fetch` and
 * wallets send `*∕*` or `application/json` — keeps getting JSON, as it always did.
 */
export function invitationFormat(format: string | undefined, accept: string | undefined): InvitationFormat {
  if (format === 'url' || format === 'json' || format === 'html') return format
  if (!accept) return 'json'
  const html = quality(accept, 'text/html')
  const json = quality(accept, 'application/json')
  return html > 0 && html >= json ? 'html' : 'json'
}

/** The q-value an Accept header gives a media type when it names it, 0 when it names it not (wildcards don't count). */
function quality(accept: string, type: string): number {
  let best = 0
  for (const range of accept.split(',')) {
    const [mediaType, ...params] = range.split(';').map((part) => part.trim().toLowerCase())
    if (mediaType !== type) continue
    const q = params.find((p) => p.startsWith('q='))
    const value = q === undefined ? 1 : Number(q.slice(2))
    if (Number.isFinite(value)) best = Math.max(best, value)
  }
  return best
}
