import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:net'

/** What each haproxy process may hold: two descriptors per proxied socket under the 20,000 limit. */
export const SOCKETS_PER_HAPROXY = 9_000

export interface Frontend {
  host: string
  port: number
}

/** Says how to install haproxy when it is missing, instead of failing deep inside a scenario. */
export function requireHaproxy(): string {
  try {
    return execFileSync('haproxy', ['-v'], { stdio: 'pipe' }).toString().split('\n')[0] ?? 'haproxy'
  } catch {
    throw new Error('haproxy is not installed: run `apt-get install haproxy` (or scripts/install-bench-deps.sh)')
  }
}

/**
 * The load balancer in front of the relays' public ports: leastconn (WebSockets live long, so the
 * relay with fewest does best), no stickiness, HTTP mode so that a WebSocket upgrade becomes a tunnel
 * (`timeout tunnel` well above the relay's 30 s ping) and each POST on a kept-alive client connection
 * is balanced on its own. A 1 s TCP check takes a killed relay out and a restarted one back in.
 */
export function haproxyConfig(frontend: Frontend, relayPorts: readonly number[], maxconn: number): string {
  return [
    'global',
    `  maxconn ${maxconn}`,
    '  nbthread 1',
    'defaults',
    '  mode http',
    // Kept-alive connections to the relays too: a new one per POST would run loopback out of ports.
    '  http-reuse safe',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout tunnel 1h',
    '  timeout client-fin 5s',
    '  timeout http-keep-alive 30s',
    '  timeout http-request 10s',
    '  retries 2',
    '  option redispatch',
    'frontend wallets',
    `  bind ${frontend.host}:${frontend.port}`,
    `  maxconn ${maxconn}`,
    '  default_backend relays',
    'backend relays',
    '  balance leastconn',
    ...relayPorts.map((port, i) => `  server relay${i} 127.0.0.1:${port} check inter 1s fall 2 rise 1 maxconn ${maxconn}`),
    '',
  ].join('\n')
}

/** One haproxy process in the foreground (`-db`), so it dies with its parent's kill. */
export class HaproxyInstance {
  private constructor(
    public readonly frontend: Frontend,
    public readonly child: ChildProcess,
    private output: string,
  ) {}

  public static async start(dir: string, index: number, frontend: Frontend, relayPorts: readonly number[], maxconn: number): Promise<HaproxyInstance> {
    const file = join(dir, `haproxy-${index}.cfg`)
    writeFileSync(file, haproxyConfig(frontend, relayPorts, maxconn))
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    const instance = new HaproxyInstance(frontend, child, '')
    child.stdout?.on('data', (d: Buffer) => (instance.output += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (instance.output += d.toString()))
    await instance.waitUntilListening()
    return instance
  }

  public get pid(): number {
    if (this.child.pid === undefined) throw new Error('haproxy has no pid')
    return this.child.pid
  }

  public get url(): string {
    return `http://${this.frontend.host}:${this.frontend.port}`
  }

  public async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGKILL')
    await exited
  }

  private async waitUntilListening(): Promise<void> {
    const deadline = Date.now() + 10_000
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`haproxy exited (${this.child.exitCode}):\n${this.output}`)
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect(this.frontend.port, this.frontend.host)
        socket.once('connect', () => {
          socket.destroy()
          resolve(true)
        })
        socket.once('error', () => resolve(false))
      })
      if (ok) return
      if (Date.now() > deadline) throw new Error(`haproxy not listening on ${this.url}:\n${this.output}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
