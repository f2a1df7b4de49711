import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { RelayMetrics } from '../../apps/relay/src/metrics.js'
import { MediatorMetrics } from '../../apps/mediator/src/metrics.js'
import { chartDir } from './support/render-chart.js'

/** Every series name the two apps export: histograms as _bucket/_sum/_count, default process metrics included. */
async function exportedSeries(): Promise<Set<string>> {
  const names = new Set<string>(['up'])
  for (const registry of [new RelayMetrics('r').registry, new MediatorMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name)
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s)
    }
  }
  return names
}

/** Metric names in PromQL: identifiers followed by `{`, `[` or `)` that are not functions or labels. */
function metricNames(promql: string): string[] {
  const withoutLabels = promql.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without)\s*\([^)]*\)/g, '')
  return [...withoutLabels.matchAll(/\b([a-z_][a-z0-9_]*)\s*(?=\{|\[|\))/g)].map((m) => m[1]!).filter((n) => n.includes('_') || n === 'up')
}

const templates = (name: string) => readFileSync(join(chartDir, 'templates', name), 'utf8')

describe('metric names the chart uses', () => {
  it('every alert, dashboard panel and autoscaling metric is one the apps export', async () => {
    const exported = await exportedSeries()
    const exprs = [
      ...[...templates('prometheusrule.yaml').matchAll(/expr: (.*)$/gm)].map((m) => m[1]!),
      ...[...templates('mediator.yaml').matchAll(/"(max\(mediator_[^"]*)"/g)].map((m) => m[1]!),
      ...(JSON.parse(readFileSync(join(chartDir, 'dashboards/clustered-mediator.json'), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> }).panels.flatMap((p) =>
        p.targets.map((t) => t.expr),
      ),
    ]
    const used = new Set(exprs.flatMap(metricNames))
    expect(used.size).toBeGreaterThan(15)
    expect([...used].filter((n) => !exported.has(n)).sort()).toEqual([])
    expect(exported.has('relay_open_sockets')).toBe(true)
    expect(templates('relay.yaml')).toContain('metric: { name: relay_open_sockets }')
  })

  it('the name check sees a metric that does not exist', () => {
    expect(metricNames('sum(rate(mediator_nonexistent_total{a="b"}[5m])) by (x)')).toEqual(['mediator_nonexistent_total'])
  })
})
