import { z } from 'zod'

/** Reusable zod pieces for environment variables (always strings on the way in). */
export const envInt = (opts: { min?: number; max?: number } = {}) =>
  z.coerce
    .number()
    .int('must be a whole number')
    .min(opts.min ?? Number.MIN_SAFE_INTEGER)
    .max(opts.max ?? Number.MAX_SAFE_INTEGER)

export const envPort = () => envInt({ min: 0, max: 65535 })

export const envBool = () =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')

export const envUrl = () => z.string().url('must be a URL')

/** Comma-separated list, trimmed, empty items dropped. */
export const envList = () =>
  z.string().transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )

export const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
export type LogLevel = z.infer<typeof logLevelSchema>
