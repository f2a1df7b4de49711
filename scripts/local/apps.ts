import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { repoRoot } from './config.js'

export interface AppProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<void>
}

/**
 * Starts one of the apps, compiled (what `npm start` builds first) or from sources. Each gets a process
 * group of its own, so Ctrl-C reaches only the start script, which stops them in order.
 */
export function startApp(name: 'relay' | 'mediator', env: Record<string, string>, fromSource: boolean): AppProcess {
  const args = fromSource
    ? ['--conditions=source', '--import', 'tsx', join(repoRoot, `apps/${name}/src/main.ts`)]
    : [join(repoRoot, `apps/${name}/dist/main.js`)]
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return { name, child, exited }
}

/** SIGTERM (the apps drain and finish their jobs), SIGKILL after `timeoutMs`. */
export async function stopApp(app: AppProcess, timeoutMs: number): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return
  app.child.kill('SIGTERM')
  const timer = setTimeout(() => app.child.kill('SIGKILL'), timeoutMs)
  await app.exited
  clearTimeout(timer)
}
