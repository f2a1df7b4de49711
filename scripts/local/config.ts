import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { envBool, envPort, logLevelSchema, parseEnv } from '@mediator/config'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

const schema = z.object({
  /** Where secrets and the stores' data are kept between runs. */
  LOCAL_STATE_DIR: z.string().min(1).default(join(repoRoot, '.local')),
  /** Run the apps from their TypeScript sources (no build needed; what the tests do). */
  START_FROM_SOURCE: envBool().default(false),
  /** Unset: an embedded Postgres in the state directory. Set: that Postgres, as in a cluster. */
  DATABASE_URL: z.string().url().optional(),
  /** Unset: a private redis-server in the state directory. Set: that Redis, as in a cluster. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  LOCAL_POSTGRES_PORT: envPort().default(15432),
  LOCAL_REDIS_PORT: envPort().default(16379),
  PUBLIC_HOST: z.string().default('0.0.0.0'),
  PUBLIC_PORT: envPort().default(3000),
  INTERNAL_PORT: envPort().default(4000),
  OPS_PORT: envPort().default(4100),
  PUBLIC_URL_HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: logLevelSchema.default('info'),
})

export type LocalStartConfig = z.infer<typeof schema>

export function loadLocalStartConfig(env: Record<string, string | undefined> = process.env): LocalStartConfig {
  // An empty variable means unset: `DATABASE_URL= npm start` picks the embedded store.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''))
  return parseEnv(schema, cleaned)
}
