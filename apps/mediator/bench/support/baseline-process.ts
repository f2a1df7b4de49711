import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestSchema, freePort, testDatabaseUrl } from '@mediator/test-support'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')

export interface BaselineProcess {
  child: ChildProcess
  pid: number
  url: string
  invitationUrl: string
  stop(): Promise<void>
}

/** The stock-Credo mediator (baseline-mediator.ts) as its own process, on a schema of its own. */
export async function startBaselineProcess(): Promise<BaselineProcess> {
  const db = await createTestSchema('bench_fwd_base')
  const port = await freePort()
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', resolve(repoRoot, 'apps/mediator/bench/baseline-mediator.ts')],
    {
      cwd: repoRoot,
      env: { ...process.env, BASELINE_PORT: String(port), DATABASE_URL: testDatabaseUrl(), DATABASE_SCHEMA: db.schema },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  const ready = new Promise<{ invitationUrl: string }>((resolveReady, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString()
      const line = /READY (.*)\n/.exec(output)
      if (line?.[1]) resolveReady(JSON.parse(line[1]) as { invitationUrl: string })
    })
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
    child.once('exit', (code) => reject(new Error(`baseline exited (${code}):\n${output}`)))
  })
  const { invitationUrl } = await ready
  if (child.pid === undefined) throw new Error('baseline has no pid')
  return {
    child,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    invitationUrl,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
      await db.drop()
    },
  }
}
