import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { parseAllDocuments } from 'yaml'
import type { Manifest } from './kube-models.js'
import { repoRoot } from './repo-root.js'

export const chartDir = join(repoRoot, 'helm', 'clustered-mediator')
export const chartName = 'clustered-mediator'

/**
 * Builds the renderer (scripts/helm-render) from Debian's Go toolchain and sprig. Returns its path, or
 * why it cannot be built here (no Go, no sprig: scripts/install-test-deps.sh installs them).
 */
export function buildRenderer(): { path: string } | { missing: string } {
  const result = spawnSync('bash', [join(repoRoot, 'scripts/helm-render/build.sh')], { encoding: 'utf8' })
  if (result.status === 0) return { path: result.stdout.trim() }
  if (result.status === 2) return { missing: result.stderr.trim() }
  throw new Error(`building helm-render failed:\n${result.stderr}`)
}

export interface RenderedChart {
  /** The values the templates saw: values.yaml under the overrides. */
  values: Record<string, unknown>
  /** Every manifest of every template, in template order, empty documents dropped. */
  manifests: Manifest[]
  notes: string
  find(kind: string, name: string): Manifest
  all(kind: string): Manifest[]
}

export interface RenderOptions {
  release?: string
  namespace?: string
}

const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as object
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
const validateValues = ajv.compile(schema)

/** Problems `helm install` would report for these values against values.schema.json (none: []). */
export function valuesSchemaErrors(values: unknown): string[] {
  if (validateValues(values)) return []
  return (validateValues.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`)
}

/**
 * Renders the chart as `helm template` does, after checking the values against values.schema.json as
 * Helm does before rendering. Throws with Helm's message on a schema or template error.
 */
export function renderChart(renderer: string, overrides: object, opts: RenderOptions = {}): RenderedChart {
  const dir = mkdtempSync(join(tmpdir(), 'chart-values-'))
  const file = join(dir, 'values.json')
  writeFileSync(file, JSON.stringify(overrides))
  let out: string
  try {
    const args = ['-chart', chartDir, '-name', opts.release ?? 'mediator', '-namespace', opts.namespace ?? 'didcomm', '-f', file]
    out = execFileSync(renderer, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    throw new Error(String((error as { stderr?: string }).stderr ?? error).trim())
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const rendered = JSON.parse(out) as { values: Record<string, unknown>; templates: Record<string, string> }
  const schemaErrors = valuesSchemaErrors(rendered.values)
  if (schemaErrors.length > 0) throw new Error(`values don't meet the specifications of the schema:\n${schemaErrors.join('\n')}`)

  const manifests: Manifest[] = []
  let notes = ''
  for (const [name, text] of Object.entries(rendered.templates).sort(([a], [b]) => a.localeCompare(b))) {
    if (name.endsWith('/NOTES.txt')) {
      notes = text
      continue
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors.map((e) => e.message).join('; ')}`)
      const value = doc.toJS() as Manifest | null
      if (value !== null) manifests.push(value)
    }
  }
  const all = (kind: string) => manifests.filter((m) => m.kind === kind)
  return {
    values: rendered.values,
    manifests,
    notes,
    all,
    find(kind, name) {
      const found = manifests.find((m) => m.kind === kind && m.metadata.name === name)
      if (!found) throw new Error(`no ${kind} ${name}; have ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`)
      return found
    },
  }
}
