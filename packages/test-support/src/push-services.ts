import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { jwtVerify } from 'jose'

/** A notification the local FCM or APNs endpoint accepted. */
export interface ReceivedPush {
  service: 'fcm' | 'apns'
  token: string
  body: unknown
  at: number
}

/** What the endpoint answers for one request instead of 200 (set per token or for the next requests). */
export interface ScriptedAnswer {
  status: number
  body?: unknown
  retryAfter?: string
}

/**
 * Local HTTP servers that answer as Google's OAuth token endpoint, FCM HTTP v1 and APNs (HTTP/2
 * cleartext) do, for tests: the real services are unreachable here. They check what the real ones
 * check that a client could get wrong: the service-account assertion (RS256, signed by the key in
 * `serviceAccount`, audience = token URL, FCM scope), the bearer token, the project in the path, the
 * APNs provider token (ES256, key id and team id) and topic.
 */
export class FakePushServices {
  public readonly received: ReceivedPush[] = []
  /** Requests the services refused or answered with a scripted failure, for assertions. */
  public readonly refused: Array<{ service: 'fcm' | 'apns' | 'oauth'; status: number; token?: string }> = []
  public readonly projectId = 'test-project'
  public readonly apnsKeyId = 'ABCDE12345'
  public readonly apnsTeamId = 'TEAM123456'
  public readonly apnsTopic = 'org.example.wallet'
  public tokenRequests = 0

  private readonly byToken = new Map<string, ScriptedAnswer>()
  private readonly next: Array<{ service: 'fcm' | 'apns' | 'oauth'; answer: ScriptedAnswer }> = []
  private readonly accessTokens = new Set<string>()
  private readonly waiters: Array<() => void> = []
  private readonly saPublic: KeyObject
  private readonly saPrivatePem: string
  private readonly apnsPublic: KeyObject
  private readonly apnsPrivatePem: string
  private httpServer?: http.Server
  private h2Server?: http2.Http2Server
  private readonly h2Sessions = new Set<http2.ServerHttp2Session>()

  public constructor() {
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    this.saPublic = sa.publicKey
    this.saPrivatePem = sa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const apns = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.apnsPublic = apns.publicKey
    this.apnsPrivatePem = apns.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  }

  public static async start(): Promise<FakePushServices> {
    const services = new FakePushServices()
    await services.listen()
    return services
  }

  public get baseUrl(): string {
    return `http://127.0.0.1:${(this.httpServer?.address() as AddressInfo).port}`
  }

  public get tokenUrl(): string {
    return `${this.baseUrl}/token`
  }

  public get apnsBaseUrl(): string {
    return `http://127.0.0.1:${(this.h2Server?.address() as AddressInfo).port}`
  }

  /** A service-account key file's content whose token_uri is the local token endpoint. */
  public serviceAccountJson(): string {
    return JSON.stringify({
      type: 'service_account',
      project_id: this.projectId,
      private_key_id: 'local',
      private_key: this.saPrivatePem,
      client_email: 'mediator@test-project.iam.gserviceaccount.com',
      token_uri: this.tokenUrl,
    })
  }

  public get apnsKeyPem(): string {
    return this.apnsPrivatePem
  }

  /** The environment a worker needs to send to these services. */
  public env(): Record<string, string> {
    return {
      FCM_SERVICE_ACCOUNT_JSON: this.serviceAccountJson(),
      FCM_BASE_URL: this.baseUrl,
      APNS_KEY: this.apnsPrivatePem,
      APNS_KEY_ID: this.apnsKeyId,
      APNS_TEAM_ID: this.apnsTeamId,
      APNS_TOPIC: this.apnsTopic,
      APNS_BASE_URL: this.apnsBaseUrl,
    }
  }

  /** Every request for `token` gets this answer (e.g. 404 UNREGISTERED). */
  public answerForToken(token: string, answer: ScriptedAnswer): void {
    this.byToken.set(token, answer)
  }

  /** The next request to `service` gets this answer, then normal service resumes. */
  public answerNext(service: 'fcm' | 'apns' | 'oauth', answer: ScriptedAnswer): void {
    this.next.push({ service, answer })
  }

  public pushesFor(token: string): ReceivedPush[] {
    return this.received.filter((p) => p.token === token)
  }

  /** Resolves once `predicate` holds, re-checked on every request; rejects after `timeoutMs`. */
  public async waitFor(predicate: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250))
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  public async close(): Promise<void> {
    for (const session of this.h2Sessions) session.destroy()
    await Promise.all([
      new Promise<void>((resolve) => (this.httpServer ? this.httpServer.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.h2Server ? this.h2Server.close(() => resolve()) : resolve())),
    ])
    this.httpServer?.closeAllConnections()
  }

  private notify(): void {
    for (const wake of this.waiters.splice(0)) wake()
  }

  private takeNext(service: 'fcm' | 'apns' | 'oauth'): ScriptedAnswer | undefined {
    const index = this.next.findIndex((n) => n.service === service)
    return index < 0 ? undefined : this.next.splice(index, 1)[0]?.answer
  }

  private async listen(): Promise<void> {
    this.httpServer = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        this.handleHttp(req, Buffer.concat(chunks).toString('utf8'))
          .then(({ status, body, headers }) => {
            res.writeHead(status, { 'content-type': 'application/json', ...headers })
            res.end(JSON.stringify(body))
          })
          .catch((error: unknown) => {
            res.writeHead(500, { 'content-type': 'application/json' })
            res.end(JSON.stringify({ error: { code: 500, message: String(error) } }))
          })
          .finally(() => this.notify())
      })
    })
    this.h2Server = http2.createServer()
    this.h2Server.on('session', (session) => {
      this.h2Sessions.add(session)
      session.on('close', () => this.h2Sessions.delete(session))
    })
    this.h2Server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        this.handleApns(headers, Buffer.concat(chunks).toString('utf8'))
          .then(({ status, body, headers: extra }) => {
            stream.respond({ ':status': status, 'apns-id': randomUUID(), ...extra })
            stream.end(body === undefined ? undefined : JSON.stringify(body))
          })
          .catch(() => {
            stream.respond({ ':status': 500 })
            stream.end()
          })
          .finally(() => this.notify())
      })
    })
    await new Promise<void>((resolve) => this.httpServer?.listen(0, '127.0.0.1', resolve))
    await new Promise<void>((resolve) => this.h2Server?.listen(0, '127.0.0.1', resolve))
  }

  private async handleHttp(req: http.IncomingMessage, text: string): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const url = new URL(req.url ?? '/', this.baseUrl)
    if (req.method === 'POST' && url.pathname === '/token') return this.handleToken(text)
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname)
    if (req.method !== 'POST' || !match) return { status: 404, body: { error: { code: 404, message: 'no such route' } } }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (!bearer || !this.accessTokens.has(bearer)) {
      this.refused.push({ service: 'fcm', status: 401 })
      return { status: 401, body: { error: { code: 401, status: 'UNAUTHENTICATED', message: 'bad access token' } } }
    }
    if (match[1] !== this.projectId) return { status: 403, body: { error: { code: 403, status: 'PERMISSION_DENIED', message: 'wrong project' } } }
    const body = JSON.parse(text) as { message?: { token?: unknown } }
    const token = typeof body.message?.token === 'string' ? body.message.token : ''
    const scripted = this.takeNext('fcm') ?? this.byToken.get(token)
    if (scripted) {
      this.refused.push({ service: 'fcm', status: scripted.status, token })
      return { status: scripted.status, body: scripted.body ?? {}, headers: scripted.retryAfter ? { 'retry-after': scripted.retryAfter } : undefined }
    }
    this.received.push({ service: 'fcm', token, body, at: Date.now() })
    return { status: 200, body: { name: `projects/${this.projectId}/messages/${randomUUID()}` } }
  }

  private async handleToken(text: string): Promise<{ status: number; body: unknown }> {
    this.tokenRequests++
    const scripted = this.takeNext('oauth')
    if (scripted) {
      this.refused.push({ service: 'oauth', status: scripted.status })
      return { status: scripted.status, body: scripted.body ?? { error: 'scripted' } }
    }
    const form = new URLSearchParams(text)
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, body: { error: 'unsupported_grant_type' } }
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', this.saPublic, { audience: this.tokenUrl, algorithms: ['RS256'] })
      if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error('wrong scope')
    } catch (error) {
      this.refused.push({ service: 'oauth', status: 400 })
      return { status: 400, body: { error: 'invalid_grant', error_description: String(error) } }
    }
    const accessToken = `ya29.${randomUUID()}`
    this.accessTokens.add(accessToken)
    return { status: 200, body: { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' } }
  }

  private async handleApns(
    headers: http2.IncomingHttpHeaders,
    text: string,
  ): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const match = /^\/3\/device\/([^/]+)$/.exec(String(headers[':path'] ?? ''))
    if (headers[':method'] !== 'POST' || !match?.[1]) return { status: 404, body: { reason: 'BadPath' } }
    const token = decodeURIComponent(match[1])
    const jwt = /^bearer (.+)$/.exec(String(headers.authorization ?? ''))?.[1]
    try {
      const { payload, protectedHeader } = await jwtVerify(jwt ?? '', this.apnsPublic, { algorithms: ['ES256'], issuer: this.apnsTeamId })
      if (protectedHeader.kid !== this.apnsKeyId || typeof payload.iat !== 'number') throw new Error('bad key id')
    } catch {
      this.refused.push({ service: 'apns', status: 403, token })
      return { status: 403, body: { reason: 'InvalidProviderToken' } }
    }
    if (headers['apns-topic'] !== this.apnsTopic) return { status: 400, body: { reason: 'BadTopic' } }
    const scripted = this.takeNext('apns') ?? this.byToken.get(token)
    if (scripted) {
      this.refused.push({ service: 'apns', status: scripted.status, token })
      return { status: scripted.status, body: scripted.body, headers: scripted.retryAfter ? { 'retry-after': scripted.retryAfter } : undefined }
    }
    this.received.push({ service: 'apns', token, body: JSON.parse(text), at: Date.now() })
    return { status: 200 }
  }
}

/** FCM's answer for a token that is no longer registered. */
export const FCM_UNREGISTERED: ScriptedAnswer = {
  status: 404,
  body: {
    error: {
      code: 404,
      message: 'Requested entity was not found.',
      status: 'NOT_FOUND',
      details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
    },
  },
}

/** FCM's answer for a token that is not a registration token at all. */
export const FCM_INVALID_TOKEN: ScriptedAnswer = {
  status: 400,
  body: {
    error: {
      code: 400,
      message: 'The registration token is not a valid FCM registration token',
      status: 'INVALID_ARGUMENT',
      details: [
        { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'INVALID_ARGUMENT' },
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }] },
      ],
    },
  },
}
