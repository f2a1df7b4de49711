import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from '@mediator/test-support'

// Servers die with the test process, as the apps' processes do (see processes.ts).
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * A redis-server of one test's own, with AOF on and fsync on every write (what the guarantees assume
 * of production Redis), so the test can kill it with SIGKILL and start it again on the same data
 * without touching the Redis every other test shares.
 */
export class PrivateRedis {
  private child?: ChildProcess

  private constructor(
    public readonly port: number,
    public readonly dir: string,
  ) {}

  public static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), mkdtempSync(join(tmpdir(), 'private-redis-')))
    await redis.restart()
    return redis
  }

  /** The server's pid while it runs (for CPU accounting). */
  public get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined
  }

  public get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Starts the server on the same port and data directory (after `kill9`, it replays its AOF). */
  public async restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      { stdio: 'ignore' },
    )
    this.child = child
    running.add(child)
    child.once('exit', () => running.delete(child))
    const deadline = Date.now() + 15_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited with ${child.exitCode}`)
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      // Refused connections are expected until the server listens; connect() reports them.
      probe.on('error', () => undefined)
      try {
        await probe.connect()
        if ((await probe.ping()) === 'PONG') return
      } catch {
        // not listening yet, or still loading its AOF
      } finally {
        probe.disconnect()
      }
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** SIGKILL: no shutdown save, no flush beyond what AOF already wrote. */
  public async kill9(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  public async stop(): Promise<void> {
    await this.kill9()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
