/**
 * Decides whether a failed job is worth another attempt. Only failures of the infrastructure (a
 * database or Redis connection, a lost optimistic-concurrency race, a relay that could not be reached)
 * are transient; anything else is a property of the message itself (it cannot be decrypted, is for an
 * unknown key, breaks a protocol rule) and would fail the same way again, so it goes straight to the
 * dead letters instead of being retried.
 */
const transientCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  // Postgres: serialization failure, deadlock, admin shutdown, connection failures, too many clients.
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '53300',
])

const transientNames = new Set([
  'RecordConcurrencyError',
  'InboundQueueUnavailableError',
  'InboundAddTimeoutError',
  'MaxRetriesPerRequestError',
  'RelayWriteError',
])

const transientMessages = [/Connection terminated/i, /Connection is closed/i, /timeout exceeded when trying to connect/i]

export function isTransientError(error: unknown, depth = 0): boolean {
  if (depth > 8 || error === null || typeof error !== 'object') return false
  const e = error as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
  if (typeof e.code === 'string' && transientCodes.has(e.code)) return true
  if (typeof e.name === 'string' && transientNames.has(e.name)) return true
  if (typeof e.message === 'string' && transientMessages.some((re) => re.test(e.message as string))) return true
  if (Array.isArray(e.errors) && e.errors.some((inner) => isTransientError(inner, depth + 1))) return true
  return isTransientError(e.cause, depth + 1)
}
