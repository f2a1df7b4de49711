import http2 from 'node:http2'
import { importPKCS8, SignJWT } from 'jose'
import type { ApnsSettings } from './config.js'
import { parseJsonObject } from './json.js'
import { parseRetryAfter, type PushAttemptResult, type PushNotification, type PushSender } from './push-result.js'

/** Apple rejects provider tokens older than an hour and refreshing more often than every 20 minutes. */
const PROVIDER_TOKEN_MAX_AGE_MS = 40 * 60 * 1000

/** Reasons (HTTP 400/410 bodies) that mean this device token will never work again for this topic. */
const DEAD_TOKEN_REASONS = new Set(['BadDeviceToken', 'Unregistered', 'DeviceTokenNotForTopic'])

/**
 * APNs over HTTP/2: `POST {base}/3/device/{token}` with an ES256 provider token (JWT) of the team's
 * auth key. One HTTP/2 session is kept and multiplexed, and opened again when it closes.
 */
export class ApnsClient implements PushSender {
  private session?: http2.ClientHttp2Session
  private providerToken?: { jwt: string; issuedAt: number }
  private key?: Awaited<ReturnType<typeof importPKCS8>>

  public constructor(
    private readonly settings: ApnsSettings,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  public async send(token: string, notification: PushNotification): Promise<PushAttemptResult> {
    const first = await this.post(token, notification)
    if (first.outcome === 'failed' && first.reason.includes('ExpiredProviderToken')) {
      this.providerToken = undefined
      return this.post(token, notification)
    }
    return first
  }

  public close(): void {
    this.session?.close()
    this.session = undefined
  }

  private async post(token: string, n: PushNotification): Promise<PushAttemptResult> {
    let jwt: string
    try {
      jwt = await this.jwt()
    } catch (error) {
      return { outcome: 'failed', reason: `APNs key unusable: ${(error as Error).message}` }
    }
    const body = JSON.stringify({ aps: { alert: { title: n.title, body: n.body }, sound: 'default', 'content-available': 1 } })
    return new Promise<PushAttemptResult>((resolve) => {
      let session: http2.ClientHttp2Session
      try {
        session = this.connect()
      } catch (error) {
        resolve({ outcome: 'transient', reason: `APNs unreachable: ${(error as Error).message}` })
        return
      }
      const request = session.request({
        ':method': 'POST',
        ':path': `/3/device/${encodeURIComponent(token)}`,
        authorization: `bearer ${jwt}`,
        'apns-topic': this.settings.topic,
        'apns-push-type': 'alert',
        'apns-priority': '10',
        'apns-collapse-id': n.collapseKey.slice(0, 64),
        'content-type': 'application/json',
      })
      let status = 0
      let retryAfter: string | string[] | undefined
      let apnsId: string | undefined
      const chunks: Buffer[] = []
      request.setTimeout(this.timeoutMs, () => {
        request.close(http2.constants.NGHTTP2_CANCEL)
        resolve({ outcome: 'transient', reason: `APNs did not answer within ${this.timeoutMs} ms` })
      })
      request.on('response', (headers) => {
        status = Number(headers[':status'])
        retryAfter = headers['retry-after']
        const id = headers['apns-id']
        apnsId = typeof id === 'string' ? id : undefined
      })
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => resolve(classifyApnsAnswer(status, Buffer.concat(chunks).toString('utf8'), retryAfter, apnsId)))
      request.on('error', (error) => resolve({ outcome: 'transient', reason: `APNs request failed: ${error.message}` }))
      request.end(body)
    })
  }

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session
    const session = http2.connect(this.settings.baseUrl)
    session.on('error', () => {
      // Reported to the requests in flight; the next send opens a new session.
      if (this.session === session) this.session = undefined
    })
    session.on('close', () => {
      if (this.session === session) this.session = undefined
    })
    // An idle session must not keep the process alive.
    session.unref()
    this.session = session
    return session
  }

  private async jwt(): Promise<string> {
    if (this.providerToken && this.now() - this.providerToken.issuedAt < PROVIDER_TOKEN_MAX_AGE_MS) return this.providerToken.jwt
    this.key ??= await importPKCS8(this.settings.key, 'ES256')
    const issuedAt = this.now()
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.settings.keyId })
      .setIssuer(this.settings.teamId)
      .setIssuedAt(Math.floor(issuedAt / 1000))
      .sign(this.key)
    this.providerToken = { jwt, issuedAt }
    return jwt
  }
}

/** APNs answers (Apple's "Handling notification responses from APNs"). */
export function classifyApnsAnswer(
  status: number,
  text: string,
  retryAfter?: string | string[],
  apnsId?: string,
): PushAttemptResult {
  if (status === 200) return { outcome: 'sent', id: apnsId }
  const body = parseJsonObject(text)
  const reason = typeof body?.reason === 'string' ? body.reason : text.slice(0, 200)
  const described = `APNs ${status} ${reason}`.trim()
  if (status === 410 || (status === 400 && DEAD_TOKEN_REASONS.has(reason))) return { outcome: 'invalid-token', status, reason: described }
  if (status === 429 || status >= 500) return { outcome: 'transient', status, reason: described, retryAfterMs: parseRetryAfter(retryAfter) }
  return { outcome: 'failed', status, reason: described }
}
