import { LogLevel, type Logger as CredoLogger } from '@credo-ts/core'
import type { Logger } from 'pino'

const pinoLevelOf: Record<LogLevel, string> = {
  [LogLevel.test]: 'trace',
  [LogLevel.trace]: 'trace',
  [LogLevel.debug]: 'debug',
  [LogLevel.info]: 'info',
  [LogLevel.warn]: 'warn',
  [LogLevel.error]: 'error',
  [LogLevel.fatal]: 'fatal',
  [LogLevel.off]: 'silent',
}

/**
 * Credo's logger interface on pino, so Credo's own lines land in the same structured stream. Only the
 * message and an attached error are logged, never Credo's `data`: at info it carries whole decrypted
 * plaintext messages, which must not end up in a mediator's logs.
 */
export class PinoCredoLogger implements CredoLogger {
  public readonly logLevel: LogLevel

  public constructor(
    private readonly logger: Logger,
    logLevel: LogLevel = LogLevel.warn,
  ) {
    this.logLevel = logLevel
  }

  private write(level: LogLevel, message: string, data?: Record<string, unknown>): void {
    if (level < this.logLevel || this.logLevel === LogLevel.off) return
    const method = pinoLevelOf[level] as 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'
    const error = data?.error
    if (error instanceof Error) this.logger[method]({ credo: true, err: error }, message)
    else this.logger[method]({ credo: true }, message)
  }

  // Credo's Logger interface types data as Record<string, any>.
  public test(message: string, data?: Record<string, unknown>): void {
    this.write(LogLevel.test, message, data)
  }
  public trace(message: string, data?: Record<string, unknown>): void {
    this.write(LogLevel.trace, message, data)
  }
  public debug(message: string, data?: Record<string, unknown>): void {
    this.write(LogLevel.debug, message, data)
  }
  public info(message: string, data?: Record<string, unknown>): void {
    this.write(LogLevel.info, message, data)
  }
  public warn(message: string, data?: Record<string, unknown>): void {
    this.write(LogLevel.warn, message, data)
  }
  public error(message: string, data?: Record<string, unknown>): void {
    this.write(LogLevel.error, message, data)
  }
  public fatal(message: string, data?: Record<string, unknown>): void {
    this.write(LogLevel.fatal, message, data)
  }
}
