import { z } from 'zod'
import type { FcmSettings } from './config.js'
import { AccessTokenError, GoogleAccessTokenSource } from './google-access-token.js'
import { parseJsonObject } from './json.js'
import { parseRetryAfter, type PushAttemptResult, type PushNotification, type PushSender } from './push-result.js'

const fcmErrorSchema = z.object({
  error: z.object({
    code: z.number().optional(),
    status: z.string().optional(),
    message: z.string().optional(),
    details: z.array(z.looseObject({ '@type': z.string().optional(), errorCode: z.string().optional(), fieldViolations: z.array(z.looseObject({ field: z.string().optional() })).optional() })).optional(),
  }),
})

/**
 * FCM HTTP v1: `POST {base}/v1/projects/{project}/messages:send` with an OAuth2 bearer token of the
 * service account. A 401 refreshes the token once within the attempt.
 */
export class FcmClient implements PushSender {
  private readonly tokens: GoogleAccessTokenSource
  private readonly url: string

  public constructor(
    settings: FcmSettings,
    private readonly timeoutMs: number,
  ) {
    this.tokens = new GoogleAccessTokenSource(settings.serviceAccount, settings.tokenUrl, timeoutMs)
    this.url = `${settings.baseUrl}/v1/projects/${encodeURIComponent(settings.projectId)}/messages:send`
  }

  public async send(token: string, notification: PushNotification): Promise<PushAttemptResult> {
    const first = await this.post(token, notification)
    if (first.outcome !== 'failed' || first.status !== 401) return first
    this.tokens.invalidate()
    return this.post(token, notification)
  }

  private async post(token: string, notification: PushNotification): Promise<PushAttemptResult> {
    let bearer: string
    try {
      bearer = await this.tokens.get()
    } catch (error) {
      if (error instanceof AccessTokenError) {
        return error.transient
          ? { outcome: 'transient', reason: error.message, retryAfterMs: error.retryAfterMs }
          : { outcome: 'failed', reason: error.message }
      }
      return { outcome: 'failed', reason: (error as Error).message }
    }
    let response: Response
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(fcmMessage(token, notification)),
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (error) {
      return { outcome: 'transient', reason: `FCM unreachable: ${(error as Error).message}` }
    }
    const text = await response.text()
    if (response.ok) {
      const name = parseJsonObject(text)
      return { outcome: 'sent', id: typeof name?.name === 'string' ? name.name : undefined }
    }
    return classifyFcmError(response.status, text, response.headers.get('retry-after'))
  }
}

/** A data message that wakes the app, with a visible notification for when it is not running. */
function fcmMessage(token: string, n: PushNotification) {
  return {
    message: {
      token,
      notification: { title: n.title, body: n.body },
      data: { type: 'didcomm-message-waiting' },
      android: { priority: 'HIGH', collapse_key: n.collapseKey },
      apns: { headers: { 'apns-collapse-id': n.collapseKey }, payload: { aps: { 'content-available': 1 } } },
    },
  }
}

/**
 * FCM's error answers (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode): UNREGISTERED
 * (404) and an INVALID_ARGUMENT (400) about `message.token` mean the token is dead; 429 and 5xx are
 * worth retrying (honouring Retry-After); anything else will not get better.
 */
export function classifyFcmError(status: number, text: string, retryAfter: string | null): PushAttemptResult {
  const parsed = fcmErrorSchema.safeParse(parseJsonObject(text))
  const error = parsed.success ? parsed.data.error : undefined
  const codes = new Set((error?.details ?? []).map((d) => d.errorCode).filter((c): c is string => c !== undefined))
  const tokenField = (error?.details ?? []).some((d) => d.fieldViolations?.some((v) => v.field === 'message.token'))
  const reason = `FCM ${status} ${[...codes].join(',') || error?.status || ''}: ${error?.message ?? text.slice(0, 200)}`.trim()
  if (codes.has('UNREGISTERED') || (status === 404 && error?.status === 'NOT_FOUND')) {
    return { outcome: 'invalid-token', status, reason }
  }
  if (status === 400 && (tokenField || (codes.has('INVALID_ARGUMENT') && /registration token/i.test(error?.message ?? '')))) {
    return { outcome: 'invalid-token', status, reason }
  }
  if (status === 429 || status >= 500) return { outcome: 'transient', status, reason, retryAfterMs: parseRetryAfter(retryAfter) }
  return { outcome: 'failed', status, reason }
}
