import { envInt, envUrl, parseEnv } from '@mediator/config'
import pg from 'pg'
import { z } from 'zod'

/** Environment of a process that uses the Postgres storage. */
export const storageEnvSchema = z.object({
  DATABASE_URL: envUrl(),
  /** Schema holding the records; put first on the search_path. Default: the server's search_path. */
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .optional(),
  DATABASE_POOL_SIZE: envInt({ min: 1, max: 1000 }).default(10),
})
export type StorageEnv = z.infer<typeof storageEnvSchema>

/** Reads and validates the storage settings from the environment (throws `ConfigError`). */
export function parseStorageEnv(env: Record<string, string | undefined> = process.env): StorageEnv {
  return parseEnv(storageEnvSchema, env)
}

/** A pool for the storage: the schema, if given, becomes the connections' search_path. */
export function createStoragePool(env: StorageEnv): pg.Pool {
  return new pg.Pool({
    connectionString: env.DATABASE_URL,
    max: env.DATABASE_POOL_SIZE,
    ...(env.DATABASE_SCHEMA ? { options: `-c search_path=${env.DATABASE_SCHEMA}` } : {}),
  })
}
