import { randomBytes } from 'node:crypto'
import { createTestRedisPrefix, createTestSchema, testDatabaseUrl } from '@mediator/test-support'
import type { TestRedisPrefix, TestSchema } from '@mediator/test-support'
import { freePort } from './ports.js'
import { startApp, startOnFreePorts, waitForReady, type ManagedProcess } from './processes.js'
import { TcpBalancer } from './tcp-balancer.js'

export interface RelayHandle {
  readonly name: string
  /** The id the relay announces in Redis (and that jobs and live sessions name). */
  readonly relayId: string
  readonly publicPort: number
  readonly internalPort: number
  readonly proc: ManagedProcess
}

export interface WorkerHandle {
  readonly name: string
  readonly opsPort: number
  readonly proc: ManagedProcess
}

/**
 * A whole cluster on loopback for end-to-end tests: relay and worker processes started from source,
 * on a fresh Postgres schema and Redis prefix, behind a round-robin TCP balancer that wallets and
 * senders use as the mediator's public address.
 */
export class TestCluster {
  public readonly relays: RelayHandle[] = []
  public readonly workers: WorkerHandle[] = []
  public readonly secret = randomBytes(24).toString('hex')
  public readonly masterKey = randomBytes(32).toString('hex')
  // Counted apart from the arrays: processes started in parallel must not share a name.
  private relaysStarted = 0
  private workersStarted = 0
  private constructor(
    public readonly db: TestSchema,
    public readonly redis: TestRedisPrefix,
    public readonly balancer: TcpBalancer,
    private readonly extraEnv: Record<string, string>,
  ) {}

  public static async start(opts: {
    label: string
    relays: number
    workers: number
    env?: Record<string, string>
    /** A Redis of the test's own (one it kills, say) instead of the shared test Redis. */
    redisUrl?: string
  }): Promise<TestCluster> {
    const db = await createTestSchema(opts.label)
    const redis = await createTestRedisPrefix(opts.label, opts.redisUrl)
    const balancer = new TcpBalancer([])
    await balancer.listen()
    const cluster = new TestCluster(db, redis, balancer, opts.env ?? {})
    try {
      await Promise.all(Array.from({ length: opts.relays }, () => cluster.addRelay()))
      // The first worker creates the schema and the invitation; the others start in parallel after it.
      if (opts.workers > 0) await cluster.addWorker()
      await Promise.all(Array.from({ length: opts.workers - 1 }, () => cluster.addWorker()))
    } catch (error) {
      await cluster.stop()
      throw error
    }
    return cluster
  }

  public get publicHttpUrl(): string {
    return `http://127.0.0.1:${this.balancer.port}`
  }

  public get publicWsUrl(): string {
    return `ws://127.0.0.1:${this.balancer.port}`
  }

  /** Starts one more relay; `env` overrides the cluster's settings for this one. */
  public async addRelay(env: Record<string, string> = {}): Promise<RelayHandle> {
    const name = `relay-${++this.relaysStarted}`
    const handle = await startOnFreePorts(() => this.startRelay(name, env))
    this.relays.push(handle)
    this.balancer.setTargets(this.liveRelays().map((r) => r.publicPort))
    return handle
  }

  private async startRelay(name: string, env: Record<string, string>): Promise<RelayHandle> {
    const [publicPort, internalPort] = [await freePort(), await freePort()]
    const relayId = `${name}-${randomBytes(3).toString('hex')}`
    const proc = startApp(name, 'relay', {
      RELAY_ID: relayId,
      PUBLIC_HOST: '127.0.0.1',
      PUBLIC_PORT: String(publicPort),
      INTERNAL_HOST: '127.0.0.1',
      INTERNAL_PORT: String(internalPort),
      INTERNAL_URL: `http://127.0.0.1:${internalPort}`,
      INTERNAL_SECRET: this.secret,
      REDIS_URL: this.redis.redisUrl,
      REDIS_PREFIX: this.redis.prefix,
      REGISTRY_HEARTBEAT_MS: '1000',
      HEARTBEAT_INTERVAL_MS: '5000',
      SOCKET_RATE_LIMIT_PER_SEC: '1000',
      SOCKET_RATE_LIMIT_BURST: '1000',
      DRAIN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
      ...this.extraEnv,
      ...env,
    })
    await waitForReady(`http://127.0.0.1:${internalPort}/readyz`, proc)
    return { name, relayId, publicPort, internalPort, proc }
  }

  /** Starts one more worker; `env` overrides the cluster's settings for this one. */
  public async addWorker(env: Record<string, string> = {}): Promise<WorkerHandle> {
    const name = `worker-${++this.workersStarted}`
    const handle = await startOnFreePorts(() => this.startWorker(name, env))
    this.workers.push(handle)
    return handle
  }

  private async startWorker(name: string, env: Record<string, string>): Promise<WorkerHandle> {
    const opsPort = await freePort()
    const proc = startApp(name, 'mediator', {
      WORKER_ID: name,
      DATABASE_URL: testDatabaseUrl(),
      DATABASE_SCHEMA: this.db.schema,
      DATABASE_POOL_SIZE: '5',
      REDIS_URL: this.redis.redisUrl,
      REDIS_PREFIX: this.redis.prefix,
      KMS_MASTER_KEY: this.masterKey,
      INTERNAL_SECRET: this.secret,
      PUBLIC_ENDPOINTS: `${this.publicHttpUrl},${this.publicWsUrl}`,
      OPS_HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      WORKER_CONCURRENCY: '8',
      PICKUP_LEASE_MS: '5000',
      LOG_LEVEL: 'warn',
      ...this.extraEnv,
      ...env,
    })
    await waitForReady(`http://127.0.0.1:${opsPort}/readyz`, proc)
    return { name, opsPort, proc }
  }

  /** Relays whose process is still running. */
  public liveRelays(): RelayHandle[] {
    return this.relays.filter((r) => r.proc.child.exitCode === null && r.proc.child.signalCode === null)
  }

  public async invitationUrl(): Promise<string> {
    const worker = this.workers[0]
    if (!worker) throw new Error('no worker')
    const res = await fetch(`http://127.0.0.1:${worker.opsPort}/invitation?format=url`)
    return res.text()
  }

  /** Kills a relay with SIGKILL and takes it out of the balancer. */
  public async killRelay(relay: RelayHandle): Promise<void> {
    await relay.proc.kill9()
    this.balancer.setTargets(this.liveRelays().map((r) => r.publicPort))
  }

  /** Everything the processes printed, to attach to a failing assertion. */
  public logs(): string {
    return [...this.relays, ...this.workers].map((p) => `--- ${p.name}\n${p.proc.output()}`).join('\n')
  }

  public async stop(): Promise<void> {
    await Promise.all([...this.workers, ...this.relays].map((p) => p.proc.stop(10_000)))
    await this.balancer.close()
    await this.redis.cleanup()
    await this.db.drop()
  }
}
