import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './ports.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
export const startScript = resolve(repoRoot, 'scripts/start-local.ts')

export interface LocalStartPorts {
  publicPort: number
  internalPort: number
  opsPort: number
  postgresPort: number
  redisPort: number
}

export async function pickLocalStartPorts(): Promise<LocalStartPorts> {
  return {
    publicPort: await freePort(),
    internalPort: await freePort(),
    opsPort: await freePort(),
    postgresPort: await freePort(),
    redisPort: await freePort(),
  }
}

/**
 * `npm start` as a developer runs it, from the TypeScript sources: the start script as its own process
 * (which starts the stores, the relay and the worker), with DATABASE_URL and REDIS_URL unset.
 */
export class LocalStart {
  private out = ''
  private readonly exited: Promise<number | null>

  private constructor(public readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()))
    this.exited = new Promise((res) => child.once('exit', (code) => res(code)))
  }

  public static spawn(opts: { stateDir: string; ports: LocalStartPorts; env?: Record<string, string> }): LocalStart {
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.DATABASE_URL
    delete env.REDIS_URL
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', startScript], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        LOCAL_STATE_DIR: opts.stateDir,
        START_FROM_SOURCE: 'true',
        PUBLIC_HOST: '127.0.0.1',
        PUBLIC_PORT: String(opts.ports.publicPort),
        INTERNAL_PORT: String(opts.ports.internalPort),
        OPS_PORT: String(opts.ports.opsPort),
        LOCAL_POSTGRES_PORT: String(opts.ports.postgresPort),
        LOCAL_REDIS_PORT: String(opts.ports.redisPort),
        LOG_LEVEL: 'warn',
        ...opts.env,
      },
    })
    return new LocalStart(child)
  }

  public output(): string {
    return this.out
  }

  /** The invitation URL the script prints once the mediator is ready. */
  public async invitationUrl(timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = /invitation URL:\s+(\S+)/.exec(this.out)
      if (match?.[1]) return match[1]
      if (this.child.exitCode !== null) throw new Error(`npm start exited with ${this.child.exitCode}:\n${this.out}`)
      if (Date.now() > deadline) throw new Error(`no invitation after ${timeoutMs} ms:\n${this.out}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  /** Ctrl-C: SIGINT to the start script only, as a terminal delivers it to the foreground process. */
  public async interrupt(timeoutMs = 60_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode
    this.child.kill('SIGINT')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }

  /** The start script and every process below it (relay, worker, postgres and its backends, redis). */
  public processTree(): number[] {
    const root = this.child.pid
    if (root === undefined) return []
    const parentOf = new Map<number, number>()
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        // Field 4 of stat, after the parenthesised command name (which may hold spaces).
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        parentOf.set(Number(entry), ppid)
      } catch {
        // exited meanwhile
      }
    }
    const tree = new Set([root])
    for (let grew = true; grew; ) {
      grew = false
      for (const [pid, ppid] of parentOf) {
        if (!tree.has(pid) && tree.has(ppid)) {
          tree.add(pid)
          grew = true
        }
      }
    }
    return [...tree]
  }
}

export interface TcpSocket {
  pid: number
  localPort: number
  remotePort: number
  /** Kernel state: 0A listening, 01 established, 02 connecting. */
  state: string
}

/** The TCP sockets (IPv4 and IPv6) that processes `pids` hold open, from /proc. */
export function tcpSocketsOf(pids: readonly number[]): TcpSocket[] {
  const byInode = new Map<string, Omit<TcpSocket, 'pid'>>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      const [local, remote, state, inode] = [f[1], f[2], f[3], f[9]]
      if (!local || !remote || !state || !inode) continue
      const port = (addr: string) => parseInt(addr.slice(addr.lastIndexOf(':') + 1), 16)
      byInode.set(inode, { localPort: port(local), remotePort: port(remote), state })
    }
  }
  const sockets: TcpSocket[] = []
  for (const pid of pids) {
    let fds: string[] = []
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]
        const socket = inode === undefined ? undefined : byInode.get(inode)
        if (socket) sockets.push({ pid, ...socket })
      } catch {
        // closed meanwhile
      }
    }
  }
  return sockets
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
