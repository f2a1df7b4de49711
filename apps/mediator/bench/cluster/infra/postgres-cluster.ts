import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import pg from 'pg'
import { freePort } from '@mediator/test-support'

/** The newest Postgres major version installed (Debian: /usr/lib/postgresql/<version>). */
function installedVersion(): string {
  const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v))
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (!newest) throw new Error('no Postgres server under /usr/lib/postgresql (apt-get install postgresql)')
  return newest
}

/**
 * A Postgres cluster of the benchmark's own (Debian postgresql-common), on a free port with trust
 * auth on loopback, so a scenario can stop and start it without touching the machine's main one.
 * `drop()` stops and removes it (data directory included).
 */
export class BenchPostgres {
  private constructor(
    public readonly version: string,
    public readonly name: string,
    public readonly port: number,
  ) {}

  public static async create(): Promise<BenchPostgres> {
    const version = installedVersion()
    const name = `bench_${process.pid}_${Date.now().toString(36)}`
    const port = await freePort()
    execFileSync(
      'pg_createcluster',
      [version, name, '-p', String(port), '--start-conf', 'manual', '--', '--auth-local=trust', '--auth-host=trust'],
      { stdio: 'pipe' },
    )
    const cluster = new BenchPostgres(version, name, port)
    await cluster.start()
    return cluster
  }

  public get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }

  /** The postmaster's pid (its backends are its children), or undefined while stopped. */
  public postmasterPid(): number | undefined {
    try {
      const dir = `/var/lib/postgresql/${this.version}/${this.name}`
      return Number(readFileSync(`${dir}/postmaster.pid`, 'utf8').split('\n')[0])
    } catch {
      return undefined
    }
  }

  public async stop(): Promise<void> {
    this.ctl('stop', ['-m', 'fast'])
  }

  public async start(): Promise<void> {
    // Many workers, wallets and load processes each hold a pool.
    this.ctl('start', ['-o', '-c max_connections=800'])
    await this.waitUntilAccepting()
  }

  private dropped = false

  public drop(): void {
    if (this.dropped) return
    this.dropped = true
    try {
      execFileSync('pg_dropcluster', ['--stop', this.version, this.name], { stdio: 'pipe' })
    } catch (error) {
      process.stderr.write(`pg_dropcluster ${this.version} ${this.name} failed: ${String(error)}\n`)
    }
  }

  private ctl(action: 'start' | 'stop', extra: string[]): void {
    execFileSync('pg_ctlcluster', [this.version, this.name, action, '--', ...extra], { stdio: 'pipe' })
  }

  private async waitUntilAccepting(): Promise<void> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const client = new pg.Client({ connectionString: this.url })
      try {
        await client.connect()
        await client.query('SELECT 1')
        return
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((r) => setTimeout(r, 200))
      } finally {
        await client.end().catch(() => undefined)
      }
    }
  }
}
