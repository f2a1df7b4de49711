/**
 * `npm start`: one relay and one mediator worker on this machine, from the compiled apps. Prints the
 * mediator's invitation URL and its QR code once it is ready.
 *
 * With DATABASE_URL and REDIS_URL unset it runs on stores it owns, in the state directory (`.local/`):
 * an embedded Postgres and a private redis-server with AOF on, each on a loopback port of its own. It
 * never uses a Postgres or Redis someone else runs unless told to by those URLs (then it behaves like
 * one member of a cluster). Ctrl-C stops the apps first, then the stores it started.
 *
 * A master key, an internal secret and the stores' passwords are generated on first start and kept in
 * the state directory, so a restart finds the same keys and records. That is for trying the mediator
 * out: a production deployment gives KMS_MASTER_KEY and INTERNAL_SECRET from its secret store.
 */
import { randomBytes } from 'node:crypto'
import { ConfigError, createLogger } from '@mediator/config'
import {
  findRedisServer,
  MissingRedisServerError,
  openStateDir,
  persistentSecret,
  runningAsRoot,
  startEmbeddedPostgres,
  startPrivateRedis,
} from '@mediator/local-stack'
import { announceInvitation } from './local/announce.js'
import { startApp, stopApp, type AppProcess } from './local/apps.js'
import { loadLocalStartConfig, type LocalStartConfig } from './local/config.js'

let config: LocalStartConfig
try {
  config = loadLocalStartConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`npm start: ${error.message}\n`)
  process.exit(2)
}
const logger = createLogger({ service: 'start-local', level: config.LOG_LEVEL })

// Fail before starting anything: no half-started stack to clean up.
let redisServer: string | undefined
if (!config.REDIS_URL) {
  try {
    redisServer = findRedisServer()
  } catch (error) {
    if (!(error instanceof MissingRedisServerError)) throw error
    process.stderr.write(`\n${error.message}\n\n`)
    process.exit(3)
  }
}

const stateDir = openStateDir(config.LOCAL_STATE_DIR, { traversableByOthers: runningAsRoot() && !config.DATABASE_URL })
const secret = (name: string, bytes: number, encoding: BufferEncoding) => persistentSecret(stateDir, name, () => randomBytes(bytes).toString(encoding))

/** Everything we started, stopped in reverse order (apps before the stores they use). */
const stoppers: Array<{ name: string; stop: () => Promise<void> }> = []
const apps: AppProcess[] = []
let stopping = false

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    await Promise.all(apps.map((app) => stopApp(app, 20_000)))
    for (const s of stoppers.reverse()) {
      await s.stop().catch((error: unknown) => logger.error({ err: error, service: s.name }, 'stop failed'))
    }
    logger.info('stopped')
    process.exit(code)
  }
  return new Promise<never>(() => undefined)
}
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))

async function main(): Promise<void> {
  let databaseUrl = config.DATABASE_URL
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dir: stateDir, port: config.LOCAL_POSTGRES_PORT, password: secret('postgres-password', 18, 'hex') })
    stoppers.push({ name: 'embedded postgres', stop: () => pg.stop() })
    logger.info({ port: config.LOCAL_POSTGRES_PORT, dir: stateDir, pid: pg.process.pid }, 'embedded postgres started')
    databaseUrl = pg.url
  }
  let redisUrl = config.REDIS_URL
  if (!redisUrl && redisServer) {
    const redis = await startPrivateRedis({ executable: redisServer, dir: stateDir, port: config.LOCAL_REDIS_PORT, password: secret('redis-password', 18, 'hex') })
    stoppers.push({ name: 'private redis', stop: () => redis.stop() })
    logger.info({ port: config.LOCAL_REDIS_PORT, dir: stateDir, pid: redis.process.pid }, 'private redis started')
    redisUrl = redis.url
  }
  if (!redisUrl) throw new Error('no Redis')
  if (stopping) return

  const shared: Record<string, string> = {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: process.env.REDIS_PREFIX ?? 'mediator',
    INTERNAL_SECRET: process.env.INTERNAL_SECRET ?? secret('internal-secret', 24, 'hex'),
    LOG_LEVEL: config.LOG_LEVEL,
  }
  const publicUrl = `http://${config.PUBLIC_URL_HOST}:${config.PUBLIC_PORT}`
  const launch = (name: 'relay' | 'mediator', env: Record<string, string>) => {
    const app = startApp(name, { ...shared, ...env }, config.START_FROM_SOURCE)
    apps.push(app)
    app.child.once('exit', (code, signal) => {
      if (stopping) return
      process.stderr.write(`${name} exited (${signal ?? code}); stopping\n`)
      void stop(1)
    })
  }
  launch('relay', {
    PUBLIC_HOST: config.PUBLIC_HOST,
    PUBLIC_PORT: String(config.PUBLIC_PORT),
    INTERNAL_HOST: '127.0.0.1',
    INTERNAL_PORT: String(config.INTERNAL_PORT),
    INTERNAL_URL: process.env.INTERNAL_URL ?? `http://127.0.0.1:${config.INTERNAL_PORT}`,
  })
  launch('mediator', {
    DATABASE_URL: databaseUrl,
    KMS_MASTER_KEY: process.env.KMS_MASTER_KEY ?? secret('kms-master-key', 32, 'base64'),
    PUBLIC_ENDPOINTS: process.env.PUBLIC_ENDPOINTS ?? `${publicUrl},ws://${config.PUBLIC_URL_HOST}:${config.PUBLIC_PORT}`,
    OPS_HOST: '127.0.0.1',
    OPS_PORT: String(config.OPS_PORT),
  })
  await announceInvitation({ opsPort: config.OPS_PORT, publicUrl, stopped: () => stopping })
}

main().catch(async (error: unknown) => {
  process.stderr.write(`npm start: ${(error as Error)?.message ?? String(error)}\n`)
  await stop(1)
})
