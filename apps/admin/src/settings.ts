import { z } from 'zod'
import { ConfigError, envUrl, parseEnv } from '@mediator/config'
import { UsageError } from './errors.js'

/**
 * Where the cluster is: the same variables, with the same defaults, as the relays and workers read,
 * so a shell that runs a worker runs the tool. Flags override them.
 */
export const adminEnvSchema = z.object({
  REDIS_URL: envUrl().default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/, "use letters, digits, ':', '_' or '-'").default('mediator'),
  DATABASE_URL: envUrl().default('postgres://postgres@127.0.0.1:5432/test'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lowercase SQL identifier')
    .default('mediator'),
})
export type AdminSettings = z.infer<typeof adminEnvSchema>

/** Flag names that override a variable. */
export const settingFlags = {
  'redis-url': 'REDIS_URL',
  prefix: 'REDIS_PREFIX',
  'database-url': 'DATABASE_URL',
  schema: 'DATABASE_SCHEMA',
} as const satisfies Record<string, keyof AdminSettings>

export function loadSettings(
  env: Record<string, string | undefined>,
  flags: Partial<Record<keyof typeof settingFlags, string>>,
): AdminSettings {
  const merged: Record<string, string | undefined> = { ...env }
  for (const [flag, variable] of Object.entries(settingFlags)) {
    const value = flags[flag as keyof typeof settingFlags]
    if (value !== undefined) merged[variable] = value
  }
  try {
    return parseEnv(adminEnvSchema, merged)
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new UsageError(error.issues.map((i) => `${i.variable}: ${i.message}`).join('; '))
    }
    throw error
  }
}

/** A URL fit for an error message: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable URL)'
  }
}
