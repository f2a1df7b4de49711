/** What one attempt to deliver a notification came to. */
export type PushAttemptResult =
  | { outcome: 'sent'; id?: string }
  /** The service says the device token is not (or no longer) valid: forget it. */
  | { outcome: 'invalid-token'; status: number; reason: string }
  /** Worth another attempt (5xx, 429, network, timeout); `retryAfterMs` when the service said when. */
  | { outcome: 'transient'; status?: number; reason: string; retryAfterMs?: number }
  /** Will not get better by retrying (bad credentials, a refused payload). */
  | { outcome: 'failed'; status?: number; reason: string }

/** Something that can send one notification to one device. */
export interface PushSender {
  send(token: string, notification: PushNotification): Promise<PushAttemptResult>
  close?(): void | Promise<void>
}

export interface PushNotification {
  title: string
  body: string
  /** Lets the service collapse notifications of one wallet that are still undelivered. */
  collapseKey: string
}

/** Parses a Retry-After header (seconds or an HTTP date) into ms from now. */
export function parseRetryAfter(value: string | string[] | undefined | null, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (!text) return undefined
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
