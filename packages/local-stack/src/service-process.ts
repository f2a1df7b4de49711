import { spawn, type SpawnOptions } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'

/** A store server we started and must stop: its own process group, its output in a log file. */
export interface ServiceProcess {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  /** Whether the process is still running. */
  running(): boolean
  /** Resolves with the exit code (or the signal's name) once it has exited. */
  readonly exited: Promise<number | string>
  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILL. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<void>
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string
}

/**
 * Starts a server in a process group of its own (`detached`), so that Ctrl-C in the terminal reaches
 * only the start script, which then stops the apps first and the stores last, in that order.
 */
export function startServiceProcess(
  name: string,
  command: string,
  args: readonly string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number },
): ServiceProcess {
  const log = openSync(opts.logFile, 'a', 0o600)
  const spawnOptions: SpawnOptions = { detached: true, stdio: ['ignore', log, log], env: opts.env ?? process.env }
  if (opts.uid !== undefined) spawnOptions.uid = opts.uid
  if (opts.gid !== undefined) spawnOptions.gid = opts.gid
  const child = spawn(command, args, spawnOptions)
  // The child holds its own copy of the descriptor.
  closeSync(log)
  let done = false
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true
      resolve(code ?? signal ?? 'unknown')
    })
    child.once('error', (error) => {
      done = true
      resolve(error.message)
    })
  })
  return {
    name,
    pid: child.pid ?? -1,
    logFile: opts.logFile,
    exited,
    running: () => !done,
    async stop(signal, timeoutMs) {
      if (done) return
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
    },
    logTail(lines = 15) {
      try {
        return readFileSync(opts.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
      } catch {
        return ''
      }
    },
  }
}

/** Polls `probe` until it succeeds; fails at once when the server exits, or after `timeoutMs`. */
export async function waitUntilServing(service: ServiceProcess, probe: () => Promise<void>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!service.running()) {
      throw new Error(`${service.name} exited (${String(await service.exited)}) before it answered; ${service.logFile}:\n${service.logTail()}`)
    }
    try {
      await probe()
      return
    } catch (error) {
      if (Date.now() > deadline) {
        await service.stop('SIGKILL', 1_000)
        throw new Error(`${service.name} did not answer within ${timeoutMs} ms (${(error as Error).message}); ${service.logFile}:\n${service.logTail()}`)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
