import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError, envInt, envUrl } from '@mediator/config'

/**
 * Push-notification settings as they come from the environment. Every credential is optional: with
 * none, notifications are off and device info is still stored (see docs/push-notifications.md).
 */
export const pushEnvSchema = z.object({
  /** At most one notification per wallet per this window (ms). */
  PUSH_COALESCE_MS: envInt({ min: 100, max: 24 * 3600 * 1000 }).default(30_000),
  /** Attempts per notification, the first included, on transient failures (5xx, 429, network). */
  PUSH_MAX_ATTEMPTS: envInt({ min: 1, max: 10 }).default(4),
  PUSH_RETRY_BASE_MS: envInt({ min: 10, max: 60_000 }).default(1_000),
  PUSH_RETRY_MAX_MS: envInt({ min: 10, max: 300_000 }).default(30_000),
  /** One HTTP request to FCM, APNs or the token endpoint may take at most this long. */
  PUSH_REQUEST_TIMEOUT_MS: envInt({ min: 100, max: 120_000 }).default(10_000),
  PUSH_NOTIFICATION_TITLE: z.string().min(1).max(200).default('New message'),
  PUSH_NOTIFICATION_BODY: z.string().min(1).max(1000).default('You have a new message'),
  /** The Firebase service account key (the JSON file's content), or the path of that file. */
  FCM_SERVICE_ACCOUNT_JSON: z.string().optional(),
  FCM_SERVICE_ACCOUNT_FILE: z.string().optional(),
  /** Default: the service account's project_id. */
  FCM_PROJECT_ID: z.string().regex(/^[a-z0-9-]+$/, 'must be a Firebase project id').optional(),
  FCM_BASE_URL: envUrl().default('https://fcm.googleapis.com'),
  /** Default: the service account's token_uri, else Google's. */
  FCM_OAUTH_TOKEN_URL: envUrl().optional(),
  /** The APNs auth key (.p8, PEM), or the path of that file, with its key id, team id and topic (bundle id). */
  APNS_KEY: z.string().optional(),
  APNS_KEY_FILE: z.string().optional(),
  APNS_KEY_ID: z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character key id').optional(),
  APNS_TEAM_ID: z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character team id').optional(),
  APNS_TOPIC: z.string().min(1).max(255).optional(),
  APNS_BASE_URL: envUrl().default('https://api.push.apple.com'),
})
export type PushEnv = z.infer<typeof pushEnvSchema>

const serviceAccountSchema = z.object({
  type: z.literal('service_account'),
  project_id: z.string().min(1),
  private_key: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  client_email: z.string().min(3),
  token_uri: z.string().url().optional(),
})
export type ServiceAccount = z.infer<typeof serviceAccountSchema>

export interface FcmSettings {
  projectId: string
  baseUrl: string
  tokenUrl: string
  serviceAccount: ServiceAccount
}

export interface ApnsSettings {
  baseUrl: string
  key: string
  keyId: string
  teamId: string
  topic: string
}

export interface PushSettings {
  coalesceMs: number
  retry: { maxAttempts: number; baseMs: number; maxMs: number }
  requestTimeoutMs: number
  notification: { title: string; body: string }
  fcm?: FcmSettings
  apns?: ApnsSettings
}

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'

/**
 * Checks the combination of the settings and reads the credentials (inline or from a file). A
 * half-configured service is an error naming the missing variable, never a silent "off".
 */
export function resolvePushSettings(env: PushEnv, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): PushSettings {
  const problems: Array<{ variable: string; message: string }> = []
  const secret = (inline: string | undefined, file: string | undefined, names: [string, string]): string | undefined => {
    if (inline && file) problems.push({ variable: names[0], message: `set either ${names[0]} or ${names[1]}, not both` })
    if (inline) return inline
    if (!file) return undefined
    try {
      return readFile(file)
    } catch (error) {
      problems.push({ variable: names[1], message: `cannot read ${file}: ${(error as Error).message}` })
      return undefined
    }
  }

  let fcm: FcmSettings | undefined
  const accountText = secret(env.FCM_SERVICE_ACCOUNT_JSON, env.FCM_SERVICE_ACCOUNT_FILE, ['FCM_SERVICE_ACCOUNT_JSON', 'FCM_SERVICE_ACCOUNT_FILE'])
  if (accountText !== undefined) {
    let json: unknown
    try {
      json = JSON.parse(accountText)
    } catch {
      problems.push({ variable: 'FCM_SERVICE_ACCOUNT_JSON', message: 'is not JSON' })
    }
    const account = json === undefined ? undefined : serviceAccountSchema.safeParse(json)
    if (account && !account.success) {
      const fields = account.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')
      problems.push({ variable: 'FCM_SERVICE_ACCOUNT_JSON', message: `is not a service account key (check ${fields})` })
    } else if (account?.success) {
      fcm = {
        projectId: env.FCM_PROJECT_ID ?? account.data.project_id,
        baseUrl: env.FCM_BASE_URL.replace(/\/+$/, ''),
        tokenUrl: env.FCM_OAUTH_TOKEN_URL ?? account.data.token_uri ?? GOOGLE_TOKEN_URL,
        serviceAccount: account.data,
      }
    }
  }

  let apns: ApnsSettings | undefined
  const key = secret(env.APNS_KEY, env.APNS_KEY_FILE, ['APNS_KEY', 'APNS_KEY_FILE'])
  const apnsParts = { APNS_KEY_ID: env.APNS_KEY_ID, APNS_TEAM_ID: env.APNS_TEAM_ID, APNS_TOPIC: env.APNS_TOPIC }
  if (key !== undefined || Object.values(apnsParts).some((v) => v !== undefined)) {
    if (key === undefined && !env.APNS_KEY_FILE) problems.push({ variable: 'APNS_KEY', message: 'APNs needs its key (APNS_KEY or APNS_KEY_FILE)' })
    for (const [name, value] of Object.entries(apnsParts)) {
      if (value === undefined) problems.push({ variable: name, message: 'APNs needs APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC together' })
    }
    if (key !== undefined && !key.includes('PRIVATE KEY')) problems.push({ variable: 'APNS_KEY', message: 'must be the .p8 key in PEM form' })
    if (key !== undefined && env.APNS_KEY_ID && env.APNS_TEAM_ID && env.APNS_TOPIC) {
      apns = {
        baseUrl: env.APNS_BASE_URL.replace(/\/+$/, ''),
        key,
        keyId: env.APNS_KEY_ID,
        teamId: env.APNS_TEAM_ID,
        topic: env.APNS_TOPIC,
      }
    }
  }

  if (env.PUSH_RETRY_BASE_MS > env.PUSH_RETRY_MAX_MS) {
    problems.push({ variable: 'PUSH_RETRY_BASE_MS', message: 'must not be larger than PUSH_RETRY_MAX_MS' })
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return {
    coalesceMs: env.PUSH_COALESCE_MS,
    retry: { maxAttempts: env.PUSH_MAX_ATTEMPTS, baseMs: env.PUSH_RETRY_BASE_MS, maxMs: env.PUSH_RETRY_MAX_MS },
    requestTimeoutMs: env.PUSH_REQUEST_TIMEOUT_MS,
    notification: { title: env.PUSH_NOTIFICATION_TITLE, body: env.PUSH_NOTIFICATION_BODY },
    fcm,
    apns,
  }
}
