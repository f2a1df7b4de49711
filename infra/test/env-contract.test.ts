import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadRelayConfig, relayEnvSchema } from '../../apps/relay/src/config.js'
import { loadMediatorConfig, mediatorEnvSchema } from '../../apps/mediator/src/config.js'
import { buildRenderer, renderChart } from '../../helm/test/support/render-chart.js'
import { repoRoot } from '../../helm/test/support/repo-root.js'
import type { Manifest } from '../../helm/test/support/kube-models.js'
import { ENV_CONTRACT, NOT_DEPLOYMENT_ENV, PACKAGE_ENV_ROLE } from './env-contract.js'
import type { Role } from './env-contract.js'

const ROLES: Role[] = ['relay', 'mediator']

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sourceFiles(path)
    return /\.(ts|js|mjs)$/.test(name) ? [path] : []
  })
}

/** `process.env.NAME` / `process.env['NAME']` in the apps' and packages' sources, with where. */
function processEnvReads(): Map<string, string[]> {
  const reads = new Map<string, string[]>()
  const dirs = ['apps', 'packages'].flatMap((top) => readdirSync(join(repoRoot, top)).map((d) => join(repoRoot, top, d, 'src')))
  for (const dir of dirs) {
    let files: string[]
    try {
      files = sourceFiles(dir)
    } catch {
      continue
    }
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/process\.env(?:\.([A-Z_][A-Z0-9_]*)|\[['"]([A-Z_][A-Z0-9_]*)['"]\])/g)) {
        const name = m[1] ?? m[2]!
        reads.set(name, [...(reads.get(name) ?? []), relative(repoRoot, file)])
      }
    }
  }
  return reads
}

/** Every variable each role reads: its config schema, plus process.env reads in what it runs. */
function readByRole(): Record<Role, Set<string>> {
  const read: Record<Role, Set<string>> = {
    relay: new Set(Object.keys(relayEnvSchema.shape)),
    mediator: new Set(Object.keys(mediatorEnvSchema.shape)),
  }
  for (const [name, files] of processEnvReads()) {
    if (name in NOT_DEPLOYMENT_ENV) continue
    const inApp = ROLES.find((role) => files.some((f) => f.startsWith(`apps/${role}/`)))
    const role = inApp ?? PACKAGE_ENV_ROLE[name]
    if (!role) throw new Error(`${name} is read in ${files.join(', ')}: add it to PACKAGE_ENV_ROLE or NOT_DEPLOYMENT_ENV`)
    read[role].add(name)
  }
  return read
}

/** Compose's `${VAR:?message}` / `${VAR:-default}` as `docker compose up` would fill them in. */
const COMPOSE_INPUT: Record<string, string> = {
  INTERNAL_SECRET: 'internal-secret-0123456789',
  KMS_MASTER_KEY: Buffer.alloc(32, 2).toString('base64'),
}
const interpolate = (value: string) =>
  value.replace(/\$\{([A-Z_]+)(?::([?-])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) => {
    const given = COMPOSE_INPUT[name]
    if (given !== undefined) return given
    if (kind === '-') return rest ?? ''
    throw new Error(`compose needs ${name}`)
  })

/** Each compose service of a role, its environment interpolated. */
function composeServices(): Array<{ role: Role; env: Record<string, string> }> {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[]; environment?: Record<string, unknown> }>
  }
  return Object.values(compose.services).flatMap((service) => {
    const script = service.command?.join(' ') ?? ''
    const role = ROLES.find((r) => script.includes(`apps/${r}/`))
    if (!role) return []
    const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]))
    return [{ role, env }]
  })
}

function composeEnv(): Record<Role, Set<string>> {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[]; environment?: Record<string, unknown> }>
  }
  const set: Record<Role, Set<string>> = { relay: new Set(), mediator: new Set() }
  let services = 0
  for (const service of Object.values(compose.services)) {
    const script = service.command?.join(' ') ?? ''
    const role = ROLES.find((r) => script.includes(`apps/${r}/`))
    if (!role) continue
    services++
    for (const name of Object.keys(service.environment ?? {})) set[role].add(name)
  }
  expect(services).toBeGreaterThanOrEqual(2)
  return set
}

const renderer = buildRenderer()

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string; optional?: boolean }; fieldRef?: { fieldPath: string } } }

/** Each role's container env as Kubernetes would hand it over: secrets and fields resolved, $(VAR) expanded. */
function chartEnv(): Record<Role, Record<string, string>> {
  if (!('path' in renderer)) throw new Error(renderer.missing)
  const secrets = { kmsMasterKey: Buffer.alloc(32, 1).toString('base64'), internalSecret: 'internal-secret-0123456789' }
  const r = renderChart(renderer.path, { secrets })
  const secretData = (r.find('Secret', 'mediator-clustered-mediator-secrets') as unknown as { stringData: Record<string, string> }).stringData
  const fields: Record<string, string> = { 'metadata.name': 'pod-0', 'status.podIP': '10.1.2.3' }
  const env: Record<Role, Record<string, string>> = { relay: {}, mediator: {} }
  for (const role of ROLES) {
    const d = r.find('Deployment', `mediator-clustered-mediator-${role}`) as Manifest & {
      spec: { template: { spec: { containers: Array<{ env: EnvVar[] }> } } }
    }
    for (const e of d.spec.template.spec.containers[0]!.env) {
      const raw = e.value ?? (e.valueFrom?.secretKeyRef ? secretData[e.valueFrom.secretKeyRef.key] : fields[e.valueFrom?.fieldRef?.fieldPath ?? ''])
      // An optional key the secret does not hold leaves the variable unset, as Kubernetes does.
      if (raw === undefined && e.valueFrom?.secretKeyRef?.optional) continue
      if (raw === undefined) throw new Error(`${role}: ${e.name} resolves to nothing`)
      env[role][e.name] = raw.replace(/\$\(([A-Z_0-9]+)\)/g, (_, name: string) => env[role][name] ?? `$(${name})`)
    }
  }
  return env
}

describe('environment contract of the apps and the deployments', () => {
  const read = readByRole()

  it.each(ROLES)('%s: every variable it reads is either required or a reviewed optional one, and no list names a stale one', (role) => {
    const c = ENV_CONTRACT[role]
    const listed = [...c.required, ...Object.keys(c.optional)]
    expect(listed.filter((n) => c.required.includes(n) && n in c.optional), 'in both lists').toEqual([])
    expect([...read[role]].filter((n) => !listed.includes(n)).sort(), 'read but not in the contract').toEqual([])
    expect(listed.filter((n) => !read[role].has(n)).sort(), 'in the contract but not read').toEqual([])
  })

  it.each(ROLES)('%s: docker-compose.yml sets every required variable and nothing the app does not read', (role) => {
    const set = composeEnv()[role]
    expect(ENV_CONTRACT[role].required.filter((n) => !set.has(n)), 'required but not set').toEqual([])
    expect([...set].filter((n) => !read[role].has(n)), 'set but not read').toEqual([])
  })

  it.skipIf(!('path' in renderer)).each(ROLES)('%s: the chart sets every required variable and nothing the app does not read', (role) => {
    const set = new Set(Object.keys(chartEnv()[role]))
    expect(ENV_CONTRACT[role].required.filter((n) => !set.has(n)), 'required but not set').toEqual([])
    const chartOnly = Object.keys(ENV_CONTRACT[role].chartOnly)
    expect([...set].filter((n) => !read[role].has(n) && !chartOnly.includes(n)), 'set but not read').toEqual([])
  })

  it.skipIf(!('path' in renderer))('what the chart sets is accepted by the apps\' own configuration parsers', () => {
    const env = chartEnv()
    const relay = loadRelayConfig(env.relay)
    expect(relay.internalUrl).toBe('http://10.1.2.3:4000')
    expect(relay.relayId).toBe('pod-0')
    const mediator = loadMediatorConfig(env.mediator)
    expect(mediator.PUBLIC_ENDPOINTS).toEqual(['https://mediator.example.org', 'wss://mediator.example.org'])
    expect(mediator.MEDIATION_ALLOW_LIST).toEqual([])
    expect(mediator.REDIS_PREFIX).toBe(relay.redisPrefix)
  })

  it('what docker-compose.yml sets is accepted by the apps\' own configuration parsers', () => {
    const services = composeServices()
    expect(services.filter((s) => s.role === 'relay').length).toBeGreaterThanOrEqual(2)
    for (const { role, env } of services) {
      if (role === 'relay') expect(loadRelayConfig(env).internalUrl).toMatch(/^http:\/\/relay-\d:4000$/)
      else expect(loadMediatorConfig(env).DATABASE_URL).toMatch(/@postgres:5432\//)
    }
  })
})
