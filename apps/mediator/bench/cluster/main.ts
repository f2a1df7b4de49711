/**
 * `npm run bench:cluster`: the real topology on this machine, measured. Relays and workers from
 * dist/, haproxy in front of the relays, a Redis and a Postgres cluster of the run's own, wallets in
 * load processes; then the scenarios (density, throughput, storm, chaos, stock-Credo baseline).
 * Writes bench-results/cluster.json and the report (docs/bench-report). Options: see args.ts (--help).
 * Loopback only; everything it started is killed and removed on exit and on Ctrl-C.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseClusterArgs } from './args.js'
import type { ClusterFigures } from './figures.js'
import { ForwardSender } from './forward-sender.js'
import { requireHaproxy, SOCKETS_PER_HAPROXY } from './infra/haproxy.js'
import { DeliveryLedger } from './load/delivery-ledger.js'
import { LoadFleet, SOCKETS_PER_LOAD_PROCESS } from './load/load-fleet.js'
import type { LoadEvents } from './load/protocol.js'
import { readCpuTicks, stealPercent } from './machine-steal.js'
import { writeReport } from './report/report.js'
import type { RunContext } from './run-context.js'
import { baseline } from './scenarios/baseline.js'
import { chaos } from './scenarios/chaos.js'
import { density } from './scenarios/density.js'
import { maxHeld } from './scenarios/ramp.js'
import { storm } from './scenarios/storm.js'
import { throughput } from './scenarios/throughput.js'
import { Topology } from './topology.js'
import { setUpWalletFleet, type WalletFleet } from './wallet-fleet.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
const started = Date.now()
const log = (text: string) => process.stderr.write(`[bench:cluster +${Math.round((Date.now() - started) / 1000)}s] ${text}\n`)

function preflight(): string {
  for (const app of ['relay', 'mediator']) {
    if (!existsSync(resolve(repoRoot, `apps/${app}/dist/main.js`))) {
      throw new Error(`apps/${app}/dist/main.js is missing: run \`npm run build\` first`)
    }
  }
  for (const tool of ['redis-server', 'pg_createcluster']) {
    try {
      execFileSync('which', [tool], { stdio: 'pipe' })
    } catch {
      throw new Error(`${tool} is missing: run scripts/install-bench-deps.sh (apt-get install redis-server postgresql haproxy)`)
    }
  }
  return requireHaproxy()
}

async function main(): Promise<void> {
  const args = parseClusterArgs(process.argv.slice(2))
  const haproxyVersion = preflight()
  // Other work on the machine shows in every latency: the figures say how busy it was.
  const loadAverage = loadavg().map((l) => Math.round(l * 100) / 100)
  const cpuAtStart = readCpuTicks()
  const balancers = Math.max(1, Math.ceil(args.wallets / SOCKETS_PER_HAPROXY))
  const topology = await Topology.start({ relays: args.relays, workers: args.workers, balancers, log })
  let fleet: WalletFleet | undefined
  let load: LoadFleet | undefined
  let sender: ForwardSender | undefined
  let cleaning: Promise<void> | undefined
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await load?.stop().catch(() => undefined)
      sender?.close()
      await fleet?.close().catch(() => undefined)
      await topology.close().catch((e: unknown) => log(`cleanup: ${String(e)}`))
    })())
  process.once('exit', () => topology.closeSync())
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping everything`)
      void cleanUp().finally(() => process.exit(130))
    })
  }
  try {
    // The wallet agents' own schemas go to the run's Postgres too (createTestSchema reads this).
    process.env.TEST_DATABASE_URL = topology.postgres.url
    // Idle RSS after the heap settled (two GCs a second apart), as after the sockets below.
    await topology.relayMemory(true)
    await new Promise((r) => setTimeout(r, 2_000))
    const idle = await topology.relayMemory(true)
    fleet = await setUpWalletFleet({
      databaseUrl: topology.postgres.url,
      invitationUrl: topology.invitationUrl,
      mediator: topology.mediatorStore,
      endpoints: topology.workerEndpoints,
      credoWallets: args.credoWallets,
      sockets: args.wallets,
      log,
    })
    const ledger = new DeliveryLedger()
    const listeners = new Set<(e: LoadEvents) => void>()
    load = new LoadFleet({
      keys: fleet.keys,
      connections: fleet.connections,
      socketConnection: fleet.wallets.map((w) => w.connection),
      urls: topology.publicUrls,
      ackMs: args.ackMs,
      onEvents: (e) => {
        ledger.apply(e)
        for (const l of listeners) l(e)
      },
      log,
    })
    log(`opening ${args.wallets} wallet sockets in live mode`)
    const cpuBeforeConnect = topology.readCpu()
    await load.connect()
    const cpuConnect = topology.readCpu()
    const perWallet = (ms: number) => Math.round((ms / Math.max(1, load?.live ?? 1)) * 100) / 100
    const connectCpu = {
      ...Object.fromEntries(Object.entries(cpuConnect).map(([k, v]) => [k, perWallet(v - cpuBeforeConnect[k as keyof typeof cpuConnect])])),
      load: perWallet(load.connectCpuMs),
    }
    log(`${load.live} wallets live (${load.failed} failed) in ${load.connectSeconds.toFixed(1)} s; CPU ms per wallet ${JSON.stringify(connectCpu)}`)
    sender = new ForwardSender(topology.publicUrls, ledger)
    const ctx: RunContext = {
      args,
      topology,
      fleet,
      load,
      ledger,
      sender,
      log,
      subscribe(listener) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    }
    const figures: ClusterFigures = {
      benchmark: 'cluster',
      date: new Date().toISOString(),
      command: ['npm run bench:cluster', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      machine: {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        memory_bytes: totalmem(),
        node: process.version,
        haproxy: haproxyVersion,
        kernel: release(),
        load_average_start: loadAverage,
      },
      topology: { relays: args.relays, workers: args.workers, balancers, load_processes: Math.ceil(args.wallets / SOCKETS_PER_LOAD_PROCESS) },
      setup: {
        credo_wallets: Math.min(args.credoWallets, fleet.wallets.length),
        seeded_connections: fleet.connections.length - Math.min(args.credoWallets, fleet.wallets.length),
        wallets: fleet.wallets.length,
        credo_setup_s: Math.round(fleet.credoSetupSeconds * 10) / 10,
        seed_s: Math.round(fleet.seedSeconds * 10) / 10,
        connect_s: Math.round(load.connectSeconds * 10) / 10,
        connect_cpu_ms_per_wallet: connectCpu,
      },
      sockets_held: null,
      rss_per_socket_bytes: null,
      storm_reregister_s: null,
      lost: 0,
      delivered_after_confirmation: 0,
      p99_ms_at_1000_per_s: null,
    }
    const has = (s: string) => args.scenario.includes(s as (typeof args.scenario)[number])
    if (has('density')) {
      figures.density = await density(ctx, idle)
      figures.sockets_held = figures.density.sockets_held
      figures.rss_per_socket_bytes = figures.density.rss_per_socket_bytes
      figures.lost += figures.density.sample_sent - figures.density.sample_delivered
    }
    if (has('throughput')) {
      figures.throughput = await throughput(ctx)
      figures.p99_ms_at_1000_per_s = figures.throughput.p99_ms_at_1000_per_s
      figures.lost += figures.throughput.by_workers.flatMap((w) => w.steps).reduce((s, st) => s + st.lost, 0)
    }
    if (has('storm')) {
      figures.storm = await storm(ctx)
      figures.storm_reregister_s = figures.storm.reregister_s
      figures.lost += figures.storm.lost
    }
    if (has('chaos')) {
      const held = figures.throughput ? maxHeld(figures.throughput.by_workers.at(-1)?.steps ?? []) : 0
      figures.chaos = await chaos(ctx, Math.max(20, Math.round((held || args.rate / 4) / 2)))
      figures.lost += figures.chaos.faults.reduce((s, f) => s + f.lost, 0)
    }
    figures.delivered_after_confirmation = ledger.afterConfirmationBetween()
    await load.stop()
    load = undefined
    if (has('baseline')) {
      figures.baseline = await baseline({ databaseUrl: topology.postgres.url, maxRate: args.rate, stepSeconds: args.duration, ackMs: args.ackMs, log })
    }
    figures.machine.load_average_end = loadavg().map((l) => Math.round(l * 100) / 100)
    figures.machine.steal_percent = stealPercent(cpuAtStart, readCpuTicks())
    const out = resolve(repoRoot, args.out)
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`)
    log(`wrote ${out}`)
    await writeReport(resolve(repoRoot, args.reportDir), figures)
    log(`wrote ${resolve(repoRoot, args.reportDir)}/README.md`)
  } finally {
    await cleanUp()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
