import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from '@mediator/test-support'
import { startApp, waitForReady, type ManagedProcess } from '../../test/support/processes.js'
import { PrivateRedis } from '../../test/support/private-redis.js'
import { childPids, cpuMs, rssBytes } from '../support/proc-stat.js'
import { BenchPostgres } from './infra/postgres-cluster.js'
import { HaproxyInstance, SOCKETS_PER_HAPROXY } from './infra/haproxy.js'

const MEDIATOR_SCHEMA = 'mediator'

export interface TopologyOptions {
  relays: number
  workers: number
  /** haproxy processes: each holds at most SOCKETS_PER_HAPROXY sockets. */
  balancers: number
  log: (text: string) => void
}

interface RelaySlot {
  index: number
  publicPort: number
  internalPort: number
  generation: number
  relayId: string
  proc?: ManagedProcess
}

interface WorkerSlot {
  index: number
  opsPort: number
  proc?: ManagedProcess
}

/** CPU ms used so far per role (processes that died keep what they had when last read). */
export type CpuByRole = Record<'relay' | 'worker' | 'redis' | 'postgres' | 'haproxy', number>

/**
 * The real topology on this machine: R relays and W workers from dist/, haproxy in front of the
 * relays, a Redis (AOF, fsync always) and a Postgres cluster of its own, all in a temp dir that
 * `close()` removes. Every process can be killed and started again by a scenario.
 */
export class Topology {
  public readonly secret = randomBytes(24).toString('hex')
  public readonly masterKey = randomBytes(32).toString('hex')
  public readonly relays: RelaySlot[] = []
  public readonly workers: WorkerSlot[] = []
  public readonly balancers: HaproxyInstance[] = []
  public invitationUrl = ''
  // CPU of processes that are gone, so a kill does not make a role's total go backwards.
  private readonly cpuCarried: CpuByRole = { relay: 0, worker: 0, redis: 0, postgres: 0, haproxy: 0 }
  private readonly lastCpu = new Map<number, { role: keyof CpuByRole; ms: number }>()

  private constructor(
    private readonly options: TopologyOptions,
    public readonly dir: string,
    public readonly postgres: BenchPostgres,
    public readonly redis: PrivateRedis,
  ) {}

  public static async start(options: TopologyOptions): Promise<Topology> {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'))
    let postgres: BenchPostgres | undefined
    let redis: PrivateRedis | undefined
    try {
      postgres = await BenchPostgres.create()
      redis = await PrivateRedis.start()
      const topology = new Topology(options, dir, postgres, redis)
      await topology.setAppendFsync('everysec')
      await topology.startAll()
      return topology
    } catch (error) {
      await redis?.stop()
      postgres?.drop()
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
  }

  /**
   * Redis's AOF fsync policy: `everysec` (the usual production setting) for density, throughput and
   * storm; `always` for chaos, whose kill -9 of Redis must not lose the last second of writes. A Redis
   * started again after a kill starts with `always` (PrivateRedis).
   */
  public async setAppendFsync(mode: 'always' | 'everysec'): Promise<void> {
    const client = new Redis(this.redis.url, { maxRetriesPerRequest: 1 })
    try {
      await client.config('SET', 'appendfsync', mode)
    } finally {
      client.disconnect()
    }
    this.appendFsync = mode
  }

  public appendFsync: 'always' | 'everysec' = 'always'

  /** Where wallets and senders reach the mediator: every haproxy frontend, in turn. */
  public get publicUrls(): string[] {
    return this.balancers.map((b) => b.url)
  }

  /** The endpoints workers name in DID documents and grants (PUBLIC_ENDPOINTS). */
  public get workerEndpoints(): string[] {
    const [first] = this.publicUrls
    if (!first) throw new Error('no balancer')
    return [first, first.replace('http://', 'ws://')]
  }

  /** The workers' store: where connections are seeded. */
  public get mediatorStore(): { databaseUrl: string; schema: string; masterKeyHex: string } {
    return { databaseUrl: this.postgres.url, schema: MEDIATOR_SCHEMA, masterKeyHex: this.masterKey }
  }

  private async startAll(): Promise<void> {
    const { log } = this.options
    for (let i = 0; i < this.options.relays; i++) {
      this.relays.push({ index: i, publicPort: await freePort(), internalPort: await freePort(), generation: 0, relayId: '' })
    }
    for (let i = 0; i < this.options.workers; i++) this.workers.push({ index: i, opsPort: await freePort() })
    await Promise.all(this.relays.map((r) => this.startRelay(r.index)))
    log(`${this.relays.length} relays up`)
    for (let i = 0; i < this.options.balancers; i++) {
      const frontend = { host: '127.0.0.1', port: await freePort() }
      this.balancers.push(await HaproxyInstance.start(this.dir, i, frontend, this.relays.map((r) => r.publicPort), SOCKETS_PER_HAPROXY + 500))
    }
    log(`${this.balancers.length} haproxy processes up (${this.publicUrls.join(', ')})`)
    // The first worker creates the schema and the mediator's DID; the others find them.
    await this.startWorker(0)
    await Promise.all(this.workers.slice(1).map((w) => this.startWorker(w.index)))
    const ops = this.workers[0]?.opsPort
    this.invitationUrl = await (await fetch(`http://127.0.0.1:${ops}/invitation?format=url`)).text()
    log(`${this.workers.length} workers up`)
  }

  public async startRelay(index: number): Promise<void> {
    const slot = this.relays[index]
    if (!slot) throw new Error(`no relay ${index}`)
    slot.generation++
    // A restarted relay is a new pod: a new id, the same address behind the balancer.
    slot.relayId = `relay-${index}-g${slot.generation}`
    slot.proc = startApp(
      slot.relayId,
      'relay',
      {
        RELAY_ID: slot.relayId,
        PUBLIC_HOST: '127.0.0.1',
        PUBLIC_PORT: String(slot.publicPort),
        INTERNAL_HOST: '127.0.0.1',
        INTERNAL_PORT: String(slot.internalPort),
        INTERNAL_URL: `http://127.0.0.1:${slot.internalPort}`,
        INTERNAL_SECRET: this.secret,
        REDIS_URL: this.redis.url,
        REDIS_PREFIX: 'bench',
        LOG_LEVEL: 'warn',
      },
      ['--expose-gc'],
      'dist',
    )
    await waitForReady(`http://127.0.0.1:${slot.internalPort}/readyz`, slot.proc)
  }

  public async startWorker(index: number): Promise<void> {
    const slot = this.workers[index]
    if (!slot) throw new Error(`no worker ${index}`)
    slot.proc = startApp(
      `worker-${index}`,
      'mediator',
      {
        WORKER_ID: `worker-${index}`,
        DATABASE_URL: this.postgres.url,
        DATABASE_SCHEMA: MEDIATOR_SCHEMA,
        REDIS_URL: this.redis.url,
        REDIS_PREFIX: 'bench',
        KMS_MASTER_KEY: this.masterKey,
        INTERNAL_SECRET: this.secret,
        PUBLIC_ENDPOINTS: this.workerEndpoints.join(','),
        OPS_HOST: '127.0.0.1',
        OPS_PORT: String(slot.opsPort),
        LOG_LEVEL: 'warn',
      },
      process.env.BENCH_WORKER_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_WORKER_PROF] : [],
      'dist',
    )
    await waitForReady(`http://127.0.0.1:${slot.opsPort}/readyz`, slot.proc, 120_000)
  }

  public async kill9Relay(index: number): Promise<void> {
    this.readCpu()
    await this.relays[index]?.proc?.kill9()
  }

  public async kill9Worker(index: number): Promise<void> {
    this.readCpu()
    await this.workers[index]?.proc?.kill9()
  }

  public async stopWorker(index: number): Promise<void> {
    this.readCpu()
    await this.workers[index]?.proc?.stop(30_000)
    const slot = this.workers[index]
    if (slot) slot.proc = undefined
  }

  public runningWorkers(): number {
    return this.workers.filter((w) => w.proc && w.proc.child.exitCode === null && w.proc.child.signalCode === null).length
  }

  /** Sockets each relay holds, from its internal memory endpoint (after a GC: RSS per socket). */
  public async relayMemory(gc = false): Promise<Array<{ relayId: string; rss: number; openSockets: number; heapUsed: number }>> {
    return Promise.all(
      this.relays.map(async (r) => {
        const res = await fetch(`http://127.0.0.1:${r.internalPort}/debug/memory${gc ? '?gc=1' : ''}`, {
          headers: { authorization: `Bearer ${this.secret}` },
        })
        const body = (await res.json()) as { rss: number; openSockets: number; heapUsed: number }
        return { relayId: r.relayId, rss: body.rss, openSockets: body.openSockets, heapUsed: body.heapUsed }
      }),
    )
  }

  /**
   * Counters of the running workers, summed (series name with labels -> value), for the metric
   * families whose names start with one of `prefixes`.
   */
  public async workerCounters(prefixes: readonly string[]): Promise<Record<string, number>> {
    const running = this.workers.filter((w) => w.proc && w.proc.child.exitCode === null)
    return sumCounters(running.map((w) => ({ url: `http://127.0.0.1:${w.opsPort}/metrics` })), prefixes)
  }

  /**
   * The same for the running relays (each series without its relay_id label, so that a restarted relay
   * adds to the same sums; what a killed relay had counted is gone with it).
   */
  public async relayCounters(prefixes: readonly string[]): Promise<Record<string, number>> {
    const headers = { authorization: `Bearer ${this.secret}` }
    const running = this.relays.filter((r) => r.proc && r.proc.child.exitCode === null && r.proc.child.signalCode === null)
    const sums = await sumCounters(running.map((r) => ({ url: `http://127.0.0.1:${r.internalPort}/metrics`, headers })), prefixes)
    const merged: Record<string, number> = {}
    for (const [series, value] of Object.entries(sums)) {
      const name = series.replace(/relay_id="[^"]*",?/, '').replace(/\{\}$/, '').replace(',}', '}')
      merged[name] = (merged[name] ?? 0) + value
    }
    return merged
  }

  public pidsByRole(): Record<keyof CpuByRole, number[]> {
    const alive = (p?: ManagedProcess) => (p?.child.pid !== undefined && p.child.exitCode === null && p.child.signalCode === null ? [p.child.pid] : [])
    const postmaster = this.postgres.postmasterPid()
    return {
      relay: this.relays.flatMap((r) => alive(r.proc)),
      worker: this.workers.flatMap((w) => alive(w.proc)),
      redis: this.redis.pid === undefined ? [] : [this.redis.pid],
      postgres: postmaster === undefined ? [] : [postmaster, ...childPids(postmaster)],
      haproxy: this.balancers.map((b) => b.pid),
    }
  }

  /** CPU ms per role since start; reading it also remembers each process's last figure. */
  public readCpu(): CpuByRole {
    const total: CpuByRole = { ...this.cpuCarried }
    const seen = new Set<number>()
    for (const [role, pids] of Object.entries(this.pidsByRole()) as Array<[keyof CpuByRole, number[]]>) {
      for (const pid of pids) {
        const ms = cpuMs(pid)
        if (ms === 0) continue
        seen.add(pid)
        this.lastCpu.set(pid, { role, ms })
        total[role] += ms
      }
    }
    // A process that is gone since the last read keeps the CPU it had used.
    for (const [pid, last] of this.lastCpu) {
      if (seen.has(pid)) continue
      this.cpuCarried[last.role] += last.ms
      total[last.role] += last.ms
      this.lastCpu.delete(pid)
    }
    return total
  }

  public rssByRole(): Record<keyof CpuByRole, number> {
    const pids = this.pidsByRole()
    const sum = (list: number[]) => list.reduce((s, pid) => s + rssBytes(pid), 0)
    return { relay: sum(pids.relay), worker: sum(pids.worker), redis: sum(pids.redis), postgres: sum(pids.postgres), haproxy: sum(pids.haproxy) }
  }

  /**
   * Everything at once and synchronously, for the process's `exit` event (an error, a signal, a
   * timeout): no child, cluster or temp dir is left behind even when the orderly close never ran.
   */
  public closeSync(): void {
    if (this.closed) return
    this.closed = true
    const pids = [
      ...this.workers.map((w) => w.proc?.child.pid),
      ...this.relays.map((r) => r.proc?.child.pid),
      ...this.balancers.map((b) => b.child.pid),
      this.redis.pid,
    ]
    for (const pid of pids) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    this.postgres.drop()
    rmSync(this.redis.dir, { recursive: true, force: true })
    rmSync(this.dir, { recursive: true, force: true })
  }

  private closed = false

  public async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all(this.workers.map((w) => w.proc?.stop(10_000)))
    await Promise.all(this.relays.map((r) => r.proc?.kill9()))
    await Promise.all(this.balancers.map((b) => b.stop()))
    await this.redis.stop()
    this.postgres.drop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Sums, over the endpoints, every sample of the metric families whose names start with one of `prefixes`. */
async function sumCounters(endpoints: ReadonlyArray<{ url: string; headers?: Record<string, string> }>, prefixes: readonly string[]): Promise<Record<string, number>> {
  const sums: Record<string, number> = {}
  for (const { url, headers } of endpoints) {
    const text = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) }).then((r) => r.text()).catch(() => '')
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || !prefixes.some((p) => line.startsWith(p))) continue
      const cut = line.lastIndexOf(' ')
      const value = Number(line.slice(cut + 1))
      if (Number.isFinite(value)) sums[line.slice(0, cut)] = (sums[line.slice(0, cut)] ?? 0) + value
    }
  }
  return sums
}
