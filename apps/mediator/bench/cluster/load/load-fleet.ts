import { fork, type ChildProcess } from 'node:child_process'
import { cpuMs } from '../../support/proc-stat.js'
import type { FleetConnection, FromLoad, KeysDatabase, LoadEvents, StartTask } from './protocol.js'

/** Sockets per load process: well under the 20,000 open files one process may hold. */
export const SOCKETS_PER_LOAD_PROCESS = 5_000

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export interface FleetOptions {
  keys: KeysDatabase
  connections: FleetConnection[]
  /** Socket i speaks on connection socketConnection[i]. */
  socketConnection: number[]
  urls: string[]
  ackMs: number
  onEvents: (events: LoadEvents) => void
  log: (text: string) => void
}

/**
 * The wallet sockets, spread over load processes (SOCKETS_PER_LOAD_PROCESS each), each process on its
 * own source address 127.0.0.(2+k) so that ephemeral ports do not run out.
 */
export class LoadFleet {
  private readonly children: ChildProcess[] = []
  public live = 0
  public failed = 0
  /** Wallets given up on their first connect, by why (connectFailureKind). */
  public readonly failures: Record<string, number> = {}
  public connectSeconds = 0
  /** CPU the load processes spent opening their sockets and turning live mode on (their own start excluded). */
  public connectCpuMs = 0
  /** The latest phase counts of each load process (WalletClient.phase). */
  private readonly phasesByProcess = new Map<number, Record<string, number>>()
  private readonly loopDelayByProcess = new Map<number, number>()

  public constructor(private readonly options: FleetOptions) {}

  /** How many wallet clients are in each phase, as the load processes last reported (every 5 s). */
  public phases(): Record<string, number> {
    const sum: Record<string, number> = {}
    for (const phases of this.phasesByProcess.values()) for (const [phase, n] of Object.entries(phases)) sum[phase] = (sum[phase] ?? 0) + n
    return sum
  }

  /** The longest event-loop delay of any load process in its last report (ms; every 5 s). */
  public loopDelayMaxMs(): number | undefined {
    return this.loopDelayByProcess.size === 0 ? undefined : Math.max(...this.loopDelayByProcess.values())
  }

  public get pids(): number[] {
    return this.children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]))
  }

  /** CPU the load processes have used so far (ms, from /proc): what the harness's own wallets cost. */
  public cpuMs(): number {
    return this.pids.reduce((sum, pid) => sum + cpuMs(pid), 0)
  }

  public async connect(): Promise<void> {
    const { socketConnection } = this.options
    const processes = Math.max(1, Math.ceil(socketConnection.length / SOCKETS_PER_LOAD_PROCESS))
    const started = performance.now()
    const results = await Promise.all(
      Array.from({ length: processes }, (_, k) => {
        const sockets = socketConnection.flatMap((c, id) => {
          const connection = this.options.connections[c]
          if (!connection) throw new Error(`socket ${id}: no connection ${c}`)
          return id % processes === k ? [{ id, connection }] : []
        })
        return this.startProcess(k, sockets)
      }),
    )
    this.connectSeconds = (performance.now() - started) / 1000
    this.live = results.reduce((s, r) => s + r.live, 0)
    for (const r of results) for (const [kind, n] of Object.entries(r.failures)) this.failures[kind] = (this.failures[kind] ?? 0) + n
    this.failed = Object.values(this.failures).reduce((s, n) => s + n, 0)
    this.connectCpuMs = results.reduce((s, r) => s + r.cpuMs, 0)
  }

  private startProcess(k: number, sockets: StartTask['sockets']): Promise<{ live: number; failures: Record<string, number>; cpuMs: number }> {
    const child = fork(new URL('./load-process.ts', import.meta.url).pathname, [], {
      // BENCH_LOAD_PROF=dir: a CPU profile of each load process, written when it stops.
      execArgv: ['--conditions=source', '--import', 'tsx', ...(process.env.BENCH_LOAD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_LOAD_PROF}`] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    running.add(child)
    child.once('exit', () => running.delete(child))
    this.children.push(child)
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`load process ${k} exited (${code})`)))
      child.on('message', (message: FromLoad) => {
        if (message.type === 'ready') {
          const task: StartTask = {
            type: 'start',
            keys: this.options.keys,
            sockets,
            urls: this.options.urls,
            localAddress: `127.0.0.${2 + k}`,
            concurrency: 50,
            ackMs: this.options.ackMs,
          }
          child.send(task)
        }
        if (message.type === 'connected') {
          const failed = Object.values(message.failures).reduce((s, n) => s + n, 0)
          const why = failed > 0 ? ` ${JSON.stringify(message.failures)}` : ''
          this.options.log(`load process ${k}: ${message.live} live, ${failed} failed${why}, ${message.fds} open files`)
          resolve({ live: message.live, failures: message.failures, cpuMs: message.cpuMs })
        }
        if (message.type === 'events') {
          if (message.phases) this.phasesByProcess.set(k, message.phases)
          if (message.loopDelayMaxMs !== undefined) this.loopDelayByProcess.set(k, message.loopDelayMaxMs)
          this.options.onEvents(message)
        }
      })
    })
  }

  public async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.removeAllListeners('exit')
            child.once('exit', () => resolve())
            child.send({ type: 'stop' })
            setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
          }),
      ),
    )
  }
}
