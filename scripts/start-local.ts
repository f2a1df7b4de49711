/**
 * `npm start`: one relay and one mediator worker on this machine, against the local Postgres and Redis,
 * from the compiled apps. Prints the mediator's invitation URL once it is ready. Every variable of the
 * two apps can be overridden from the environment (see apps/relay/README.md, apps/mediator/README.md).
 *
 * A master key and an internal secret are generated on first start and kept in `.local/` so that a
 * restart finds its keys again. That is for trying the mediator out: a production deployment gives
 * KMS_MASTER_KEY and INTERNAL_SECRET from its secret store.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const stateDir = join(root, '.local')

function persistentSecret(name: string, make: () => string): string {
  const file = join(stateDir, name)
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const value = make()
  writeFileSync(file, `${value}\n`, { mode: 0o600 })
  return value
}

const publicPort = process.env.PUBLIC_PORT ?? '3000'
const publicHost = process.env.PUBLIC_HOST ?? '0.0.0.0'
const internalPort = process.env.INTERNAL_PORT ?? '4000'
const opsPort = process.env.OPS_PORT ?? '4100'
const advertised = process.env.PUBLIC_URL_HOST ?? '127.0.0.1'
const shared: Record<string, string> = {
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  REDIS_PREFIX: process.env.REDIS_PREFIX ?? 'mediator',
  INTERNAL_SECRET: process.env.INTERNAL_SECRET ?? persistentSecret('internal-secret', () => randomBytes(24).toString('hex')),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
}

const children: ChildProcess[] = []
function run(name: string, script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [join(root, script)], {
    env: { ...process.env, ...shared, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${name} exited (${signal ?? code}); stopping\n`)
      stop(1)
    }
  })
  children.push(child)
  return child
}

let stopping = false
function stop(code: number): void {
  if (stopping) return
  stopping = true
  for (const c of children) c.kill('SIGTERM')
  let left = children.length
  if (left === 0) process.exit(code)
  for (const c of children) c.once('exit', () => --left === 0 && process.exit(code))
}
process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))

run('relay', 'apps/relay/dist/main.js', {
  PUBLIC_HOST: publicHost,
  PUBLIC_PORT: publicPort,
  INTERNAL_HOST: '127.0.0.1',
  INTERNAL_PORT: internalPort,
  INTERNAL_URL: process.env.INTERNAL_URL ?? `http://127.0.0.1:${internalPort}`,
})
run('mediator', 'apps/mediator/dist/main.js', {
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  KMS_MASTER_KEY: process.env.KMS_MASTER_KEY ?? persistentSecret('kms-master-key', () => randomBytes(32).toString('base64')),
  PUBLIC_ENDPOINTS: process.env.PUBLIC_ENDPOINTS ?? `http://${advertised}:${publicPort},ws://${advertised}:${publicPort}`,
  OPS_HOST: '127.0.0.1',
  OPS_PORT: opsPort,
})

async function announce(): Promise<void> {
  const deadline = Date.now() + 120_000
  while (!stopping && Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${opsPort}/invitation?format=url`)
      if (res.ok) {
        const url = await res.text()
        process.stdout.write(
          `\nMediator ready.\n  public endpoint: http://${advertised}:${publicPort} (HTTP and WebSocket)\n` +
            `  invitation:      http://${advertised}:${publicPort}/invitation\n  invitation URL:  ${url}\n\n`,
        )
        return
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500))
  }
}
void announce()
