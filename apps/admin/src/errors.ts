/** Exit codes of every command (docs/operations.md lists them for scripts). */
export const ExitCode = {
  ok: 0,
  /** Something the command needs is not there or failed: Redis or Postgres unreachable, a Redis error. */
  failed: 1,
  /** The command line is wrong: unknown command or flag, a bad value, a bad filter. */
  usage: 2,
  /** An id or key given on the command line names nothing (some ids of several, for replay and purge). */
  notFound: 3,
  /** A purge was not confirmed. */
  notConfirmed: 4,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** An error the operator gets as one line and an exit code, never as a stack trace. */
export class AdminError extends Error {
  public constructor(
    message: string,
    public readonly exitCode: ExitCode = ExitCode.failed,
    /** The command printed its result already (which tells what went wrong): no JSON error after it. */
    public readonly afterResult = false,
  ) {
    super(message)
    this.name = 'AdminError'
  }
}

export class UsageError extends AdminError {
  public constructor(message: string) {
    super(message, ExitCode.usage)
    this.name = 'UsageError'
  }
}

export class NotFoundError extends AdminError {
  public constructor(message: string) {
    super(message, ExitCode.notFound)
    this.name = 'NotFoundError'
  }
}
