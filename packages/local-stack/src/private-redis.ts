import { accessSync, constants, writeFileSync, mkdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { Redis } from 'ioredis'
import { startServiceProcess, waitUntilServing, type ServiceProcess } from './service-process.js'

/** Thrown before anything starts when there is no redis-server to run and no REDIS_URL to use. */
export class MissingRedisServerError extends Error {
  public constructor() {
    super(
      'npm start needs Redis (BullMQ queues and the pickup queues live there), and there is no redis-server on PATH.\n' +
        '  Install it:  sudo apt-get install redis-server   (Debian/Ubuntu)\n' +
        '               brew install redis                  (macOS)\n' +
        '  or point to a Redis you run:  REDIS_URL=redis://127.0.0.1:6379 npm start',
    )
    this.name = 'MissingRedisServerError'
  }
}

/** The redis-server executable on PATH, or a MissingRedisServerError. */
export function findRedisServer(path = process.env.PATH ?? ''): string {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, 'redis-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  throw new MissingRedisServerError()
}

export interface PrivateRedis {
  readonly url: string
  readonly process: ServiceProcess
  /** SIGTERM: Redis flushes its AOF and exits. */
  stop(): Promise<void>
}

/**
 * A redis-server of our own: AOF on (it holds acknowledged messages), data in `dir/redis`, loopback
 * only, password from the state directory. The settings go in a 0600 config file, not on the command
 * line, where any user could read the password.
 */
export async function startPrivateRedis(opts: { executable: string; dir: string; port: number; password: string }): Promise<PrivateRedis> {
  const dataDir = join(opts.dir, 'redis')
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const conf = join(opts.dir, 'redis.conf')
  writeFileSync(
    conf,
    [
      'bind 127.0.0.1',
      `port ${opts.port}`,
      `dir ${JSON.stringify(dataDir)}`,
      'appendonly yes',
      'appendfsync everysec',
      'save ""',
      'daemonize no',
      'protected-mode yes',
      `requirepass ${opts.password}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  const proc = startServiceProcess('private redis', opts.executable, [conf], { logFile: join(opts.dir, 'redis.log') })
  const url = `redis://:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}`
  await waitUntilServing(
    proc,
    async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => undefined)
      try {
        await probe.connect()
        // PING answers LOADING while the AOF is replayed; wait for a real answer.
        if ((await probe.ping()) !== 'PONG') throw new Error('not ready')
      } finally {
        probe.disconnect()
      }
    },
    30_000,
  )
  return { url, process: proc, stop: () => proc.stop('SIGTERM', 30_000) }
}
