import pg from 'pg'
import { Redis } from 'ioredis'
import { RedisKeys } from '@mediator/contracts'
import { AdminError } from './errors.js'
import { redactUrl, type AdminSettings } from './settings.js'

const CONNECT_TIMEOUT_MS = 3_000

/**
 * The cluster's stores as one command uses them: Redis opened at once (every command needs it) and
 * failing fast with one clear line, Postgres opened only when a command asks for it.
 */
export class ClusterConnections {
  private pool?: pg.Pool

  private constructor(
    public readonly settings: AdminSettings,
    public readonly redis: Redis,
    public readonly keys: RedisKeys,
  ) {}

  public static async open(settings: AdminSettings): Promise<ClusterConnections> {
    const redis = new Redis(settings.REDIS_URL, {
      lazyConnect: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      // A command line tool reports an unreachable Redis; it does not wait for it to come back.
      retryStrategy: () => null,
    })
    let lastError: Error | undefined
    redis.on('error', (error: Error) => (lastError = error))
    try {
      await redis.connect()
      await redis.ping()
    } catch (error) {
      redis.disconnect()
      const reason = describeConnectError(lastError ?? (error as Error))
      throw new AdminError(`Redis unreachable at ${redactUrl(settings.REDIS_URL)}: ${reason}`)
    }
    return new ClusterConnections(settings, redis, new RedisKeys(settings.REDIS_PREFIX))
  }

  /** The Postgres holding the workers' records (schema DATABASE_SCHEMA), checked on first use. */
  public async postgres(): Promise<pg.Pool> {
    if (this.pool) return this.pool
    const { DATABASE_URL, DATABASE_SCHEMA } = this.settings
    const pool = new pg.Pool({
      connectionString: DATABASE_URL,
      options: `-c search_path=${DATABASE_SCHEMA}`,
      max: 2,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    })
    pool.on('error', () => undefined)
    try {
      await pool.query('SELECT 1')
    } catch (error) {
      await pool.end().catch(() => undefined)
      throw new AdminError(`Postgres unreachable at ${redactUrl(DATABASE_URL)}: ${describeConnectError(error as Error)}`)
    }
    this.pool = pool
    return pool
  }

  public async close(): Promise<void> {
    this.redis.disconnect()
    await this.pool?.end().catch(() => undefined)
  }
}

function describeConnectError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code
  const aggregate = error instanceof AggregateError ? error.errors.find((e: unknown) => e instanceof Error) : undefined
  if (aggregate) return describeConnectError(aggregate as Error)
  return code && !error.message.includes(code) ? `${code} ${error.message}` : error.message || String(code ?? error)
}
