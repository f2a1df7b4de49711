import { pino, type Logger } from 'pino'
import type { LogLevel } from './env-types.js'

export type { Logger } from 'pino'

/**
 * One structured JSON logger per process. `service` and `instance` go on every line so an operator can
 * follow a message across relay and worker logs by its ids (messageId, socketId, relayId).
 */
export function createLogger(opts: { service: string; instance?: string; level?: LogLevel }): Logger {
  return pino({
    level: opts.level ?? 'info',
    base: { service: opts.service, ...(opts.instance ? { instance: opts.instance } : {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
}
