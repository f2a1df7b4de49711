import { percentile, round } from '../../support/percentile.js'
import { epochMs, packFor, sleep, waitDelivered, type RunContext } from '../run-context.js'
import type { CpuByRole } from '../topology.js'

export interface DensityResult {
  sockets_requested: number
  sockets_held: number
  sockets_failed: number
  /** The wallets given up on their first connect, by why their last attempt failed. */
  sockets_failed_by: Record<string, number>
  sockets_per_relay: number[]
  connect_seconds: number
  rss_per_socket_bytes: number
  heap_per_socket_bytes: number
  relay_rss_bytes: number[]
  /** Every role's CPU at rest, the load processes' (`load`) included: they answer the pings and run the wallets' timers. */
  idle_cpu_ms_per_s: CpuByRole & { load: number }
  sample_sent: number
  sample_delivered: number
  sample_p50_ms: number
  sample_p99_ms: number
}

/**
 * N live wallets held by the relays: RSS per socket (after a GC, against the relays' idle RSS), CPU
 * of every role at rest (the relays ping every socket every 30 s and the wallets answer), and a
 * forward to a sample of wallets, which must arrive.
 */
export async function density(ctx: RunContext, idle: Array<{ rss: number; heapUsed: number }>): Promise<DensityResult> {
  const { topology, load, fleet, ledger, sender, args, log } = ctx
  await sleep(3_000)
  const after = await topology.relayMemory(true)
  const held = after.reduce((s, m) => s + m.openSockets, 0)
  const rssDelta = after.reduce((s, m, i) => s + m.rss - (idle[i]?.rss ?? 0), 0)
  const heapDelta = after.reduce((s, m, i) => s + m.heapUsed - (idle[i]?.heapUsed ?? 0), 0)
  log(`density: ${held} sockets held, ${round(rssDelta / Math.max(1, held), 0)} B RSS per socket`)

  // At rest for at least one ping round of the relays (30 s), or the step duration if longer.
  const restMs = Math.max(31_000, args.duration * 1000)
  const readCpu = () => ({ ...topology.readCpu(), load: load.cpuMs() })
  const before = readCpu()
  await sleep(restMs)
  const cpu = readCpu()
  const idleCpu = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round((v - before[k as keyof typeof cpu]) / (restMs / 1000), 1)])) as CpuByRole & {
    load: number
  }
  log(`density: CPU at rest (ms/s) ${JSON.stringify(idleCpu)}`)

  const sampleSize = Math.min(500, fleet.wallets.length)
  const forwards = await packFor(fleet, fleet.wallets, sampleSize)
  const from = epochMs()
  await sender.send(forwards, 50)
  await sender.settle()
  const to = epochMs()
  await waitDelivered(ledger, from, to, 30_000)
  const outcome = ledger.outcome(from, to)
  const latencies = ledger.latencies(from, to)
  log(`density: sample ${outcome.delivered}/${outcome.sent} delivered`)
  return {
    sockets_requested: args.wallets,
    sockets_held: held,
    sockets_failed: load.failed,
    sockets_failed_by: { ...load.failures },
    sockets_per_relay: after.map((m) => m.openSockets),
    connect_seconds: round(load.connectSeconds, 1),
    rss_per_socket_bytes: Math.round(rssDelta / Math.max(1, held)),
    heap_per_socket_bytes: Math.round(heapDelta / Math.max(1, held)),
    relay_rss_bytes: after.map((m) => m.rss),
    idle_cpu_ms_per_s: idleCpu,
    sample_sent: outcome.sent,
    sample_delivered: outcome.delivered,
    sample_p50_ms: round(percentile(latencies, 50)),
    sample_p99_ms: round(percentile(latencies, 99)),
  }
}
