import { importPKCS8, SignJWT } from 'jose'
import { z } from 'zod'
import type { ServiceAccount } from './config.js'
import { parseJsonObject } from './json.js'

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().int().positive().default(3600),
})

/** The token endpoint refused or could not be reached; `transient` says whether trying later may help. */
export class AccessTokenError extends Error {
  public constructor(
    message: string,
    public readonly transient: boolean,
    public readonly retryAfterMs?: number,
  ) {
    super(message)
    this.name = 'AccessTokenError'
  }
}

/**
 * OAuth2 access tokens for FCM from a service account key (the JWT bearer grant, RFC 7523), posted to
 * the key's `token_uri`. google-auth-library 10 (the last line that runs on Node 20) posts to Google's
 * URL whatever the key says, so it cannot be pointed at a test endpoint; signing the assertion is a
 * few lines with jose. A token is reused until a minute before it expires, and concurrent callers
 * share one request.
 */
export class GoogleAccessTokenSource {
  private cached?: { token: string; expiresAt: number }
  private inFlight?: Promise<string>
  private key?: Awaited<ReturnType<typeof importPKCS8>>

  public constructor(
    private readonly account: ServiceAccount,
    private readonly tokenUrl: string,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  public async get(): Promise<string> {
    if (this.cached && this.cached.expiresAt - 60_000 > this.now()) return this.cached.token
    this.inFlight ??= this.fetchToken().finally(() => (this.inFlight = undefined))
    return this.inFlight
  }

  /** Forgets the cached token (the service answered 401 with it). */
  public invalidate(): void {
    this.cached = undefined
  }

  private async fetchToken(): Promise<string> {
    this.key ??= await importPKCS8(this.account.private_key, 'RS256')
    const issuedAt = Math.floor(this.now() / 1000)
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(this.account.client_email)
      .setAudience(this.tokenUrl)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 3600)
      .sign(this.key)
    let response: Response
    try {
      response = await fetch(this.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (error) {
      throw new AccessTokenError(`token endpoint unreachable: ${(error as Error).message}`, true)
    }
    const text = await response.text()
    if (!response.ok) {
      const transient = response.status >= 500 || response.status === 429
      throw new AccessTokenError(`token endpoint answered ${response.status}: ${text.slice(0, 200)}`, transient)
    }
    const parsed = tokenResponseSchema.safeParse(parseJsonObject(text))
    if (!parsed.success) throw new AccessTokenError('token endpoint answered without an access_token', false)
    this.cached = { token: parsed.data.access_token, expiresAt: this.now() + parsed.data.expires_in * 1000 }
    return parsed.data.access_token
  }
}
