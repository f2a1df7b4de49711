import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { envBool, envInt, envList, envPort, envUrl, logLevelSchema, parseEnv } from '@mediator/config'
import { masterKeyEnvSchema } from '@mediator/kms'
import { pushEnvSchema } from '@mediator/push-notifications'

/**
 * Everything a mediator worker reads from the environment. Names, defaults and meaning are listed in
 * apps/mediator/README.md; a bad value stops start-up with a message naming the variable.
 */
export const mediatorEnvSchema = z.object({
  WORKER_ID: z.string().min(1).default(`${hostname()}-${randomBytes(3).toString('hex')}`),
  DATABASE_URL: envUrl().default('postgres://postgres@127.0.0.1:5432/test'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lowercase SQL identifier')
    .default('mediator'),
  DATABASE_POOL_SIZE: envInt({ min: 1, max: 200 }).default(10),
  REDIS_URL: envUrl().default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/, "use letters, digits, ':', '_' or '-'").default('mediator'),
  // Same rule (and message) as the KMS's own loader: 32 bytes as 64 hex digits or base64.
  ...masterKeyEnvSchema.shape,
  /** The public URL wallets and senders reach the relays at: the endpoint in mediation grants. */
  PUBLIC_ENDPOINTS: envList().pipe(z.array(z.string().url('each endpoint must be a URL')).min(1)).default(['http://127.0.0.1:3000', 'ws://127.0.0.1:3000']),
  INTERNAL_SECRET: z.string().min(16, 'must be at least 16 characters'),
  MEDIATOR_LABEL: z.string().min(1).default('Clustered Mediator'),
  /**
   * open: grant every mediation request; allow-list: grant only connections whose label or DID is
   * listed (labels are self-asserted: this limits casual use, it authenticates nobody).
   */
  MEDIATION_POLICY: z.enum(['open', 'allow-list']).default('open'),
  MEDIATION_ALLOW_LIST: envList().default([]),
  WORKER_CONCURRENCY: envInt({ min: 1, max: 1000 }).default(32),
  /** A dead worker's jobs are retried once their lock expires and a stalled-job check sees it. */
  INBOUND_LOCK_DURATION_MS: envInt({ min: 1_000 }).default(30_000),
  INBOUND_STALLED_INTERVAL_MS: envInt({ min: 1_000 }).default(15_000),
  PICKUP_RETENTION_DAYS: envInt({ min: 1, max: 3650 }).default(7),
  PICKUP_MAX_MESSAGES: envInt({ min: 1 }).default(10_000),
  PICKUP_LEASE_MS: envInt({ min: 1_000 }).default(60_000),
  /**
   * How long the oldest forward still in process may hold later live deliveries and pickups back, so
   * that a wallet gets its messages in the order the relays acknowledged them (docs/guarantees.md).
   * Past it (its worker died or hangs) deliveries stop waiting for it.
   */
  ORDER_HOLD_MS: envInt({ min: 100, max: 60_000 }).default(2_000),
  OPS_HOST: z.string().default('0.0.0.0'),
  OPS_PORT: envPort().default(4100),
  /**
   * The queue UI on the ops port (`/ui`, bull-board) opens with Basic auth (OPS_UI_USER and
   * OPS_UI_PASSWORD) or a bearer token (OPS_UI_TOKEN); with neither set it is not mounted at all.
   */
  OPS_UI_USER: z.string().min(1).default('operator'),
  OPS_UI_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  OPS_UI_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  SHUTDOWN_TIMEOUT_MS: envInt({ min: 0 }).default(25_000),
  FAST_FORWARD: envBool().default(true),
  /**
   * Wallets without the pickup protocol get their messages on a WebSocket they sent a return-route
   * message on (docs/pickup-queue.md, "Implicit pickup").
   */
  IMPLICIT_PICKUP: envBool().default(true),
  LOG_LEVEL: logLevelSchema.default('info'),
  CREDO_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'off']).default('warn'),
  // Push notifications to offline wallets (FCM, APNs): docs/push-notifications.md.
  ...pushEnvSchema.shape,
})

export type MediatorConfig = z.infer<typeof mediatorEnvSchema>

export function loadMediatorConfig(env: Record<string, string | undefined> = process.env): MediatorConfig {
  return parseEnv(mediatorEnvSchema, env)
}
