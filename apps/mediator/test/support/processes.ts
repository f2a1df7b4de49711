import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')

export interface ManagedProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Everything the process wrote, for assertions and for failure messages. */
  output(): string
  /** SIGKILL: the process gets no chance to clean up (kill -9). */
  kill9(): Promise<void>
  /** SIGTERM and wait for the exit code. */
  stop(timeoutMs?: number): Promise<number | null>
}

// Children die with the test process: a test runner that exits early (a timeout, a crash in a hook)
// must not leave relays and workers running on a deleted schema.
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts one of the apps as its own OS process: from its TypeScript sources (tests), or from its
 * compiled `dist/` (`from: 'dist'`, benchmarks: what production runs, without tsx's loader). `nodeArgs`
 * go before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not take).
 */
export function startApp(
  name: string,
  app: 'relay' | 'mediator',
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
  from: 'source' | 'dist' = 'source',
): ManagedProcess {
  const entry =
    from === 'dist'
      ? [resolve(repoRoot, `apps/${app}/dist/main.js`)]
      : ['--conditions=source', '--import', 'tsx', resolve(repoRoot, `apps/${app}/src/main.ts`)]
  const child = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  running.add(child)
  const exited = new Promise<number | null>((res) =>
    child.once('exit', (code) => {
      running.delete(child)
      res(code)
    }),
  )
  return {
    name,
    child,
    output: () => out,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** Polls `url` until it answers 200, or fails with the process output. */
export async function waitForReady(url: string, proc: ManagedProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited early:\n${proc.output()}`)
    try {
      const res = await fetch(url)
      if (res.status === 200) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${proc.name} not ready at ${url} after ${timeoutMs} ms:\n${proc.output()}`)
}

/**
 * Starts a child on freshly picked ports and, when another process took one of them between the pick
 * and the child's bind (EADDRINUSE), starts it again on new ones: a port check can only ever say the
 * port was free a moment ago.
 */
export async function startOnFreePorts<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (error) {
      const portTaken = error instanceof Error && error.message.includes('EADDRINUSE')
      if (!portTaken || attempt >= attempts) throw error
    }
  }
}
