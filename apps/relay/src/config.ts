import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { envInt, envList, envPort, logLevelSchema, parseEnv } from '@mediator/config'
import {
  DEFAULT_INBOUND_ADD_TIMEOUT_MS,
  DEFAULT_INBOUND_JOB_ATTEMPTS,
  DEFAULT_INBOUND_JOB_BACKOFF_MS,
} from '@mediator/redis'
import type { JobRetention } from '@mediator/redis'
import { defaultMaxSockets } from './socket-capacity.js'

const MiB = 1024 * 1024

/** `true`, `false`, a count, or `age:count` (seconds:jobs), as BullMQ's removeOnComplete accepts. */
const envRetention = () =>
  z
    .string()
    .regex(/^(true|false|\d+|\d+:\d*|:\d+)$/, 'must be true, false, a job count or age_seconds:count')
    .transform((v): JobRetention => {
      if (v === 'true') return true
      if (v === 'false') return false
      if (!v.includes(':')) return Number(v)
      const [age = '', count = ''] = v.split(':')
      if (age === '') return { count: Number(count) }
      return count === '' ? { age: Number(age) } : { age: Number(age), count: Number(count) }
    })

/** Every environment variable the relay reads; README.md documents each one. */
export const relayEnvSchema = z.object({
  RELAY_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'use 1-100 letters, digits, ".", "_" or "-"')
    .default(() => `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60)}-${randomBytes(4).toString('hex')}`),
  PUBLIC_HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_PORT: envPort().default(3000),
  INTERNAL_HOST: z.string().min(1).default('0.0.0.0'),
  INTERNAL_PORT: envPort().default(4000),
  INTERNAL_URL: z.string().url('must be a URL').optional(),
  INTERNAL_SECRET: z.string().min(16, 'must be at least 16 characters'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/, 'use letters, digits, ":", "_" or "-"')
    .default('mediator'),
  MAX_MESSAGE_BYTES: envInt({ min: 1024, max: 64 * MiB }).default(4 * MiB),
  MAX_SEND_BYTES: envInt({ min: 1024, max: 64 * MiB }).optional(),
  SEND_BUFFER_LIMIT_BYTES: envInt({ min: 0 }).default(1 * MiB),
  MAX_SOCKETS: envInt({ min: 1 }).optional(),
  MAX_PENDING_ADDS: envInt({ min: 1 }).default(2_000),
  HEARTBEAT_INTERVAL_MS: envInt({ min: 100 }).default(30_000),
  REGISTRY_HEARTBEAT_MS: envInt({ min: 100 }).default(5_000),
  RETURN_ROUTE_TIMEOUT_MS: envInt({ min: 100 }).default(10_000),
  SOCKET_RATE_LIMIT_PER_SEC: envInt({ min: 1 }).default(20),
  SOCKET_RATE_LIMIT_BURST: envInt({ min: 1 }).default(100),
  FORWARD_HEADERS: envList().default([]),
  DRAIN_TIMEOUT_MS: envInt({ min: 0 }).default(15_000),
  ENQUEUE_TIMEOUT_MS: envInt({ min: 50 }).default(DEFAULT_INBOUND_ADD_TIMEOUT_MS),
  WS_ENQUEUE_RETRY_MS: envInt({ min: 0 }).default(10_000),
  // A socket waits paused meanwhile; the heartbeat passes over it (it cannot read its pongs) until the add is done.
  WS_ENQUEUE_PATIENCE_MS: envInt({ min: 0 }).default(60_000),
  // Below the 15 s after which Credo's HTTP transport gives up on a request.
  HTTP_ENQUEUE_RETRY_MS: envInt({ min: 0 }).default(5_000),
  RETRY_AFTER_SECONDS: envInt({ min: 1 }).default(5),
  RECENTLY_CLOSED_MAX: envInt({ min: 0 }).default(50_000),
  RECENTLY_CLOSED_TTL_MS: envInt({ min: 0 }).default(10 * 60_000),
  JOB_ATTEMPTS: envInt({ min: 1 }).default(DEFAULT_INBOUND_JOB_ATTEMPTS),
  JOB_BACKOFF_MS: envInt({ min: 0 }).default(DEFAULT_INBOUND_JOB_BACKOFF_MS),
  JOB_REMOVE_ON_COMPLETE: envRetention().optional(),
  JOB_REMOVE_ON_FAIL: envRetention().optional(),
  LOG_LEVEL: logLevelSchema.default('info'),
})

export type RelayEnv = z.infer<typeof relayEnvSchema>

/** The relay's configuration, in the units the code uses. */
export interface RelayConfig {
  relayId: string
  publicHost: string
  publicPort: number
  internalHost: string
  internalPort: number
  /** What the relay announces; derived from the internal listener's address when unset. */
  internalUrl?: string
  internalSecret: string
  redisUrl: string
  redisPrefix: string
  maxMessageBytes: number
  maxSendBytes: number
  sendBufferLimitBytes: number
  /** WebSockets held at most; further upgrades get 503 (undefined: no limit). */
  maxSockets?: number
  /** Upgrades get 503 while this many sockets wait on a job add (Redis slow, or a storm of new sockets). */
  maxPendingAdds: number
  heartbeatIntervalMs: number
  registryHeartbeatMs: number
  returnRouteTimeoutMs: number
  rateLimitPerSec: number
  rateLimitBurst: number
  /** Lower-case header names copied from the upgrade / POST request into every job. */
  forwardHeaders: string[]
  drainTimeoutMs: number
  enqueueTimeoutMs: number
  wsEnqueueRetryMs: number
  wsEnqueuePatienceMs: number
  httpEnqueueRetryMs: number
  retryAfterSeconds: number
  recentlyClosedMax: number
  recentlyClosedTtlMs: number
  jobAttempts: number
  jobBackoffMs: number
  jobRemoveOnComplete?: JobRetention
  jobRemoveOnFail?: JobRetention
  logLevel: RelayEnv['LOG_LEVEL']
}

/** Reads the environment; throws ConfigError naming each bad variable. */
export function loadRelayConfig(env: Record<string, string | undefined> = process.env): RelayConfig {
  const e = parseEnv(relayEnvSchema, env)
  const maxSockets = e.MAX_SOCKETS ?? defaultMaxSockets()
  return {
    relayId: e.RELAY_ID,
    publicHost: e.PUBLIC_HOST,
    publicPort: e.PUBLIC_PORT,
    internalHost: e.INTERNAL_HOST,
    internalPort: e.INTERNAL_PORT,
    ...(e.INTERNAL_URL ? { internalUrl: e.INTERNAL_URL.replace(/\/+$/, '') } : {}),
    internalSecret: e.INTERNAL_SECRET,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxSendBytes: e.MAX_SEND_BYTES ?? e.MAX_MESSAGE_BYTES,
    sendBufferLimitBytes: e.SEND_BUFFER_LIMIT_BYTES,
    ...(maxSockets !== undefined ? { maxSockets } : {}),
    maxPendingAdds: e.MAX_PENDING_ADDS,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    registryHeartbeatMs: e.REGISTRY_HEARTBEAT_MS,
    returnRouteTimeoutMs: e.RETURN_ROUTE_TIMEOUT_MS,
    rateLimitPerSec: e.SOCKET_RATE_LIMIT_PER_SEC,
    rateLimitBurst: e.SOCKET_RATE_LIMIT_BURST,
    forwardHeaders: e.FORWARD_HEADERS.map((h) => h.toLowerCase()),
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    enqueueTimeoutMs: e.ENQUEUE_TIMEOUT_MS,
    wsEnqueueRetryMs: e.WS_ENQUEUE_RETRY_MS,
    wsEnqueuePatienceMs: e.WS_ENQUEUE_PATIENCE_MS,
    httpEnqueueRetryMs: e.HTTP_ENQUEUE_RETRY_MS,
    retryAfterSeconds: e.RETRY_AFTER_SECONDS,
    recentlyClosedMax: e.RECENTLY_CLOSED_MAX,
    recentlyClosedTtlMs: e.RECENTLY_CLOSED_TTL_MS,
    jobAttempts: e.JOB_ATTEMPTS,
    jobBackoffMs: e.JOB_BACKOFF_MS,
    ...(e.JOB_REMOVE_ON_COMPLETE !== undefined ? { jobRemoveOnComplete: e.JOB_REMOVE_ON_COMPLETE } : {}),
    ...(e.JOB_REMOVE_ON_FAIL !== undefined ? { jobRemoveOnFail: e.JOB_REMOVE_ON_FAIL } : {}),
    logLevel: e.LOG_LEVEL,
  }
}
