import { maxHeld, ramp, rampRates, type RampStep } from './ramp.js'
import { CredoAlongside, type CredoFigures } from '../credo-alongside.js'
import { waitInboundIdle, type RunContext } from '../run-context.js'

const CREDO_WALLETS = 3
const COUNTERS = ['mediator_forwards_total', 'mediator_live_deliveries_total', 'mediator_order_held_total', 'mediator_order_hold_expired_total', 'mediator_pickup_fast_total', 'mediator_dead_letters_total']

export interface ThroughputResult {
  by_workers: Array<{
    workers: number
    max_held_per_s: number
    steps: Array<RampStep & { credo?: CredoFigures }>
    /** Worker counters over the ramp (paths taken, live delivery outcomes, order holds). */
    counters: Record<string, number>
  }>
  p99_ms_at_1000_per_s: number | null
  max_held_per_s: number
}

/** The forward ramp through the balancers to live wallets, with 1 worker, then with all of them. */
export async function throughput(ctx: RunContext): Promise<ThroughputResult> {
  const { topology, args, log } = ctx
  const counts = [...new Set([1, args.workers])]
  const byWorkers: ThroughputResult['by_workers'] = []
  const credo = await CredoAlongside.start(topology.invitationUrl, CREDO_WALLETS)
  credo.run()
  for (const workers of counts) {
    for (let i = workers; i < topology.workers.length; i++) await topology.stopWorker(i)
    for (let i = 0; i < workers; i++) if (!topology.workers[i]?.proc) await topology.startWorker(i)
    log(`throughput: ${topology.runningWorkers()} worker(s)`)
    // What came before (wallets going live, the previous ramp's confirmations) is not this ramp's cost.
    if (!(await waitInboundIdle(topology.redis.url, args.ackMs, Date.now() + 120_000))) log('throughput: the inbound queue did not empty in 120 s; measuring anyway')
    const countersBefore = await topology.workerCounters(COUNTERS)
    const steps = await ramp({
      label: `cluster/${workers}w`,
      fleet: ctx.fleet,
      targets: ctx.fleet.wallets,
      sender: ctx.sender,
      ledger: ctx.ledger,
      rates: rampRates(args.rate),
      stepSeconds: args.duration,
      cpuOf: () => ({ ...topology.readCpu(), load: ctx.load.cpuMs() }),
      log,
      waitIdle: (deadline) => waitInboundIdle(topology.redis.url, args.ackMs, deadline),
    })
    const countersAfter = await topology.workerCounters(COUNTERS)
    const counters = Object.fromEntries(Object.entries(countersAfter).map(([k, v]) => [k, v - (countersBefore[k] ?? 0)]).filter(([, v]) => v !== 0))
    log(`throughput: worker counters ${JSON.stringify(counters)}`)
    byWorkers.push({ workers, max_held_per_s: maxHeld(steps), steps: steps.map((s) => ({ ...s, credo: credo.figures(s.from_ms, s.to_ms) })), counters })
  }
  await credo.stop()
  for (let i = 0; i < topology.workers.length; i++) if (!topology.workers[i]?.proc) await topology.startWorker(i)
  const full = byWorkers.at(-1)
  const at1000 = full?.steps.find((s) => s.rate === 1000)
  return {
    by_workers: byWorkers,
    p99_ms_at_1000_per_s: at1000 ? at1000.p99_ms : null,
    max_held_per_s: full?.max_held_per_s ?? 0,
  }
}
