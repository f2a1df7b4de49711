import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../../helm/test/support/repo-root.js'

interface Instruction {
  op: string
  args: string
  line: number
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = []
  let pending = ''
  let start = 0
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (pending === '' && (line === '' || line.startsWith('#'))) return
    if (pending === '') start = i + 1
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim()
    if (line.endsWith('\\')) return
    const [op = '', ...rest] = pending.split(/\s+/)
    out.push({ op: op.toUpperCase(), args: rest.join(' '), line: start })
    pending = ''
  })
  return out
}

/** Exec form: a JSON array of strings (shell form would put /bin/sh between the runtime and node). */
function execForm(args: string): string[] | undefined {
  try {
    const parsed = JSON.parse(args) as unknown
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined
  } catch {
    return undefined
  }
}

const dockerfile = parseDockerfile(readFileSync(join(repoRoot, 'infra/Dockerfile'), 'utf8'))
const lastFrom = dockerfile.map((i) => i.op).lastIndexOf('FROM')
const finalStage = dockerfile.slice(lastFrom)
const one = (op: string) => {
  const found = finalStage.filter((i) => i.op === op)
  expect(found, `one ${op} in the final stage`).toHaveLength(1)
  return found[0]!
}

describe('infra/Dockerfile', () => {
  it('takes the base image as a build argument, declared before the first FROM, for every stage', () => {
    const firstFrom = dockerfile.findIndex((i) => i.op === 'FROM')
    const arg = dockerfile.findIndex((i) => i.op === 'ARG' && /^BASE_IMAGE(=|$)/.test(i.args))
    expect(arg).toBeGreaterThanOrEqual(0)
    expect(arg).toBeLessThan(firstFrom)
    for (const from of dockerfile.filter((i) => i.op === 'FROM')) expect(from.args, `line ${from.line}`).toMatch(/^\$\{?BASE_IMAGE\}?(\s|$)/)
  })

  it('runs as a fixed non-root uid', () => {
    const user = one('USER').args
    const [uid] = user.split(':')
    expect(uid).toMatch(/^\d+$/)
    expect(Number(uid)).toBeGreaterThan(0)
    // The chart's runAsUser is the same uid.
    expect(readFileSync(join(repoRoot, 'helm/clustered-mediator/values.yaml'), 'utf8')).toContain(`runAsUser: ${uid}`)
  })

  it('starts node itself in exec form, so SIGTERM reaches the app (no npm, no shell)', () => {
    const entrypoint = execForm(one('ENTRYPOINT').args)
    expect(entrypoint).toEqual(['node'])
    const cmd = execForm(one('CMD').args)
    expect(cmd).toHaveLength(1)
    expect(cmd![0]).toMatch(/^apps\/(relay|mediator)\/dist\/main\.js$/)
  })

  it('has a HEALTHCHECK in exec form whose script is copied into the image', () => {
    const hc = one('HEALTHCHECK').args
    const cmd = execForm(hc.slice(hc.indexOf('CMD ') + 4))
    expect(cmd?.[0]).toBe('node')
    const script = cmd![1]!
    expect(existsSync(join(repoRoot, script))).toBe(true)
    expect(finalStage.some((i) => i.op === 'COPY' && i.args.includes(script))).toBe(true)
    // It probes the health endpoints the apps serve.
    const text = readFileSync(join(repoRoot, script), 'utf8')
    expect(text).toContain('/healthz')
    expect(readFileSync(join(repoRoot, 'apps/relay/src/internal-routes.ts'), 'utf8')).toContain("app.get('/healthz'")
    expect(readFileSync(join(repoRoot, 'apps/mediator/src/http/ops-server.ts'), 'utf8')).toContain("app.get('/healthz'")
  })

  it('every command that runs the image passes a script path to the node entrypoint', () => {
    const compose = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')
    const commands = [...compose.matchAll(/^\s*command: (\[.*?\])/gm)].map((m) => execForm(m[1]!)).filter((c) => c?.[0] !== 'redis-server')
    expect(commands.length).toBeGreaterThanOrEqual(2)
    for (const c of commands) expect(c![0]).toMatch(/^apps\/(relay|mediator)\/dist\/main\.js$/)
    for (const role of ['relay', 'mediator']) {
      const template = readFileSync(join(repoRoot, `helm/clustered-mediator/templates/${role}.yaml`), 'utf8')
      expect(template).toContain(`args: ["apps/${role}/dist/main.js"]`)
      expect(template).not.toMatch(/^\s*command:/m)
    }
  })

  it('keeps secrets, dependencies and build output of the host out of the build context', () => {
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
    for (const entry of ['**/node_modules', '**/dist', '.git', '.local', '.env']) expect(ignore).toContain(entry)
  })
})
