import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TopLevelSpec } from 'vega-lite'
import type { ClusterFigures } from '../figures.js'
import { barChart, lineChart, writeCharts } from './charts.js'

const fmt = (v: number | null | undefined, unit = '') => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : `${v}${unit}`)

function chartsOf(f: ClusterFigures): Record<string, TopLevelSpec> {
  const charts: Record<string, TopLevelSpec> = {}
  if (f.throughput) {
    const rows = f.throughput.by_workers.flatMap((w) =>
      w.steps.flatMap((s) => [
        { rate: s.rate, ms: s.p50_ms, series: `${w.workers} worker(s) p50` },
        { rate: s.rate, ms: s.p99_ms, series: `${w.workers} worker(s) p99` },
      ]),
    )
    for (const s of f.baseline?.steps ?? []) rows.push({ rate: s.rate, ms: s.p99_ms, series: 'stock Credo p99' })
    charts['throughput-latency'] = lineChart('Forward -> wallet latency by offered rate', rows, { field: 'rate', title: 'forwards/s offered' }, { field: 'ms', title: 'ms' }, { field: 'series', title: '' })
    const full = f.throughput.by_workers.at(-1)
    const cpuRows = (full?.steps ?? []).flatMap((s) =>
      Object.entries(s.cpu_ms_per_forward).map(([role, ms]) => ({ rate: s.rate, role, ms })),
    )
    charts['throughput-cpu'] = barChart(`CPU per forward by process role (${full?.workers ?? '?'} workers)`, cpuRows, { field: 'rate', title: 'forwards/s offered' }, { field: 'ms', title: 'CPU ms per forward' }, { field: 'role', title: 'role' })
  }
  if (f.storm) {
    charts['storm-reregister'] = lineChart(
      `Wallets live again after kill -9 of ${f.storm.relays_killed.join(', ')}`,
      f.storm.reregister_curve.map((p) => ({ seconds: p.seconds, live: p.live })),
      { field: 'seconds', title: 's after the kill' },
      { field: 'live', title: 'sockets live again' },
    )
  }
  if (f.chaos) {
    charts['chaos-timeline'] = lineChart(`Deliveries per second under faults (offered ${f.chaos.rate}/s)`, f.chaos.timeline, { field: 't', title: 's' }, { field: 'delivered', title: 'delivered/s' })
  }
  if (f.density) {
    charts['density-sockets'] = barChart(
      'Sockets held per relay',
      f.density.sockets_per_relay.map((n, i) => ({ relay: `relay-${i}`, sockets: n })),
      { field: 'relay', title: 'relay' },
      { field: 'sockets', title: 'sockets' },
    )
  }
  return charts
}

/** docs/bench-report: a Markdown report of one run and its PNG charts. */
export async function writeReport(dir: string, f: ClusterFigures): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const pngs = await writeCharts(dir, chartsOf(f))
  const lines: string[] = [
    '# Cluster benchmark report',
    '',
    `Run of ${f.date} on ${f.machine.cpus} cores / ${Math.round(f.machine.memory_bytes / 2 ** 30)} GiB, Node ${f.machine.node}, ${f.machine.haproxy}; ` +
      `load average ${f.machine.load_average_start.join(' / ')} at the start, ${f.machine.load_average_end?.join(' / ') ?? 'n/a'} at the end (1/5/15 min); ` +
      `CPU ${f.machine.cpu_model ?? 'n/a'}, ${f.machine.steal_percent ?? 'n/a'} % of CPU time stolen by the hypervisor during the run.`,
    '',
    '```sh',
    f.command,
    '```',
    '',
    `Topology: ${f.topology.relays} relays, ${f.topology.workers} workers, ${f.topology.balancers} haproxy processes, ` +
      `Redis (AOF; appendfsync everysec, always during chaos) and a Postgres cluster of the run's own; ${f.topology.load_processes} load processes.`,
    `Wallets: ${f.setup.wallets}, one connection each: ${f.setup.credo_wallets} set up by Credo agents through the protocol (connection, mediation, keylist-update) in ${f.setup.credo_setup_s} s, ` +
      `${f.setup.seeded_connections} seeded into the mediator's store in ${f.setup.seed_s} s; sockets live in ${f.setup.connect_s} s ` +
      `(CPU ms per wallet going live: ${Object.entries(f.setup.connect_cpu_ms_per_wallet).map(([k, v]) => `${k} ${v}`).join(', ')}).`,
    '',
    '## Headline',
    '',
    '| figure | value | goal |',
    '| --- | --- | --- |',
    `| sockets held | ${fmt(f.sockets_held)} | 100,000 |`,
    `| RSS per socket | ${fmt(f.rss_per_socket_bytes, ' B')} | <= 5,000 B |`,
    `| p99 forward -> wallet at 1,000/s | ${fmt(f.p99_ms_at_1000_per_s, ' ms')} | <= 50 ms |`,
    `| storm: every session registered again | ${fmt(f.storm_reregister_s, ' s')} | <= 60 s |`,
    `| lost (all scenarios and faults) | ${f.lost} | 0 |`,
    `| delivered after confirmation | ${f.delivered_after_confirmation} | 0 |`,
    '',
  ]
  if (f.density) {
    const d = f.density
    lines.push('## 1. Density', '', `${d.sockets_held} of ${d.sockets_requested} sockets held (${d.sockets_failed} failed${failedBy(d.sockets_failed_by)}), per relay ${d.sockets_per_relay.join(', ')}; ` +
      `RSS per socket ${d.rss_per_socket_bytes} B (JS heap ${d.heap_per_socket_bytes} B). CPU at rest (ms per s): ${Object.entries(d.idle_cpu_ms_per_s).map(([k, v]) => `${k} ${v}`).join(', ')}. ` +
      `A forward to ${d.sample_sent} sampled wallets: ${d.sample_delivered} delivered, p50 ${d.sample_p50_ms} ms, p99 ${d.sample_p99_ms} ms.`, '')
  }
  if (f.throughput) {
    lines.push('## 2. Throughput', '', '| workers | offered/s | delivered/sent | lost | p50 | p95 | p99 | drained after | idle after | CPU ms/forward by role | Credo wallets: received/sent, p50 / p99 |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for (const w of f.throughput.by_workers) {
      for (const s of w.steps) {
        lines.push(`| ${w.workers} | ${s.rate} | ${s.delivered}/${s.sent} | ${s.lost} | ${s.p50_ms} | ${s.p95_ms} | ${s.p99_ms}${s.ok ? '' : ' (limit)'} | ${s.drain_s === null ? 'not drained' : `${s.drain_s} s`} | ${s.idle_s === null || s.idle_s === undefined ? 'n/a' : `${s.idle_s} s`} | ${Object.entries(s.cpu_ms_per_forward).map(([k, v]) => `${k} ${v}`).join(', ')} | ${s.credo ? `${s.credo.received}/${s.credo.sent}, ${s.credo.p50_ms} / ${s.credo.p99_ms} ms` : 'n/a'} |`)
      }
    }
    lines.push('', `Highest rate held (p99 <= 50 ms, nothing lost): ${f.throughput.by_workers.map((w) => `${w.max_held_per_s}/s with ${w.workers} worker(s)`).join(', ')}.`, '')
  }
  if (f.baseline) {
    lines.push('## 5. Stock Credo baseline (same run)', '', '| offered/s | delivered/sent | p50 | p99 | CPU ms/forward |', '| --- | --- | --- | --- | --- |')
    for (const s of f.baseline.steps) lines.push(`| ${s.rate} | ${s.delivered}/${s.sent} | ${s.p50_ms} | ${s.p99_ms}${s.ok ? '' : ' (limit)'} | ${s.cpu_ms_per_forward.baseline ?? 'n/a'} |`)
    lines.push('', `Stock Credo held ${f.baseline.max_held_per_s}/s with ${f.baseline.wallets} wallets.`, '')
  }
  if (f.storm) {
    const s = f.storm
    lines.push('## 3. Storm', '', `kill -9 of ${s.relays_killed.join(', ')} together (started again at once), holding ${s.sockets_on_relays} sockets, forwards in flight: ${s.sockets_reregistered}/${s.sockets_dropped} dropped sockets live again after ${fmt(s.reregister_s, ' s')}; ` +
      `${s.forwards_sent} forwards sent, ${s.lost} lost, ${s.delivered_after_confirmation} delivered after confirmation (ms after the confirmation's answer: ${s.after_confirmation_lag_ms.join(', ') || 'none'}), ${s.duplicates} duplicates before confirmation (at least once).`, '')
    const counts = (c: Record<string, number>) => Object.entries(c).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'
    lines.push(`Wallets' attempts that did not end live, since the kill: ${counts(s.wallet_outcomes)}. Relays at the end: ${counts(s.relay_counters)}.`, '')
    lines.push('| s after kill | dropped | live again | relays hold | jobs pending | wallets by phase | load processes\' loop delay, max ms |', '| --- | --- | --- | --- | --- | --- | --- |')
    for (const p of s.progress) lines.push(`| ${p.seconds} | ${p.dropped} | ${p.live_again} | ${p.relay_sockets.join(' / ')} | ${fmt(p.inbound_pending)} | ${counts(p.wallets)} | ${fmt(p.load_loop_delay_max_ms)} |`)
    lines.push('')
  }
  if (f.chaos) {
    lines.push('## 4. Chaos', '', `Offered ${f.chaos.rate}/s throughout.`, '', '| fault | at s | sent | lost | after confirmation | dead letters | full rate again after |', '| --- | --- | --- | --- | --- | --- | --- |')
    for (const r of f.chaos.faults) lines.push(`| ${r.fault} | ${r.at_s} | ${r.sent} | ${r.lost} | ${r.delivered_after_confirmation} | ${fmt(r.dead_letters)} | ${fmt(r.full_rate_again_s, ' s')} |`)
    lines.push('')
  }
  lines.push('## Charts', '', ...pngs.map((p) => `![${p}](${p})`), '')
  writeFileSync(join(dir, 'README.md'), `${lines.join('\n')}\n`)
}

/** ': 2 handshake timeout, 1 closed before live' (nothing when none failed; older figures have no kinds). */
function failedBy(kinds: Record<string, number> | undefined): string {
  const entries = Object.entries(kinds ?? {})
  return entries.length === 0 ? '' : `: ${entries.map(([kind, n]) => `${n} ${kind}`).join(', ')}`
}
