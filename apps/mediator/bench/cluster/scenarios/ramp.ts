import { percentile, round } from '../../support/percentile.js'
import { cpuMs } from '../../support/proc-stat.js'
import type { ForwardTarget } from '../../support/forward-packing.js'
import type { ForwardSender } from '../forward-sender.js'
import type { DeliveryLedger } from '../load/delivery-ledger.js'
import { epochMs, packFor, sleep, waitDelivered } from '../run-context.js'
import type { WalletFleet } from '../wallet-fleet.js'

export const P99_LIMIT_MS = 50
/** How long a step's backlog may take to arrive before the ramp gives up on the steps after it. */
export const DRAIN_LIMIT_MS = 120_000

export interface RampStep {
  rate: number
  sent: number
  acked: number
  delivered: number
  lost: number
  http_errors: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
  /** CPU ms per forward, per role. */
  cpu_ms_per_forward: Record<string, number>
  ok: boolean
  /**
   * Seconds after the step's last send until every forward of the step had arrived (null: not within
   * DRAIN_LIMIT_MS, and the ramp stopped there, since later steps would measure this one's backlog).
   */
  drain_s: number | null
  /**
   * Seconds after the step's last send until the mediator had nothing left to do, the wallets'
   * confirmations included (null: not measured, or not within DRAIN_LIMIT_MS; the ramp stopped there).
   */
  idle_s: number | null
  /** When the step's forwards were sent (epoch ms), for figures measured alongside. */
  from_ms: number
  to_ms: number
}

/** Rates of a ramp up to `max`: 100, 250, 500, 750, 1000, then +500 (1000 is always one of them). */
export function rampRates(max: number, start = 100): number[] {
  const rates = [start, 250, 500, 750, 1000].filter((r) => r >= start && r <= max)
  for (let r = 1500; r <= max; r += 500) rates.push(r)
  if (rates.at(-1) !== max && max > (rates.at(-1) ?? 0)) rates.push(max)
  return rates
}

/**
 * Steps the offered forward rate up, open loop, `stepSeconds` each: p50/p95/p99 from the POST until
 * a wallet holds the delivery, and the CPU per forward of every role (`cpuOf` reads each role's CPU
 * ms). Each step waits for its own backlog (up to DRAIN_LIMIT_MS) before the next starts, so its
 * latencies include what arrived late and CPU includes working the backlog off. Stops after the first
 * failed step (p99 over P99_LIMIT_MS or a message lost) at or past 1,000/s, so the 1,000/s figure is
 * always measured when the ramp reaches it, and after a step whose backlog did not drain.
 */
export async function ramp(options: {
  label: string
  fleet: Pick<WalletFleet, 'kms' | 'ctx'>
  targets: readonly ForwardTarget[]
  sender: ForwardSender
  ledger: DeliveryLedger
  rates: number[]
  stepSeconds: number
  cpuOf: () => Record<string, number>
  log: (text: string) => void
  /**
   * Resolves once the mediator has nothing left to do for the step (the wallets' confirmations
   * included), by the deadline given; without it a step ends when its deliveries arrived.
   */
  waitIdle?: (deadline: number) => Promise<boolean>
  /** Stop at the first failed step whatever its rate (a baseline that cannot reach 1,000/s). */
  stopAtFirstFailure?: boolean
}): Promise<RampStep[]> {
  const { sender, ledger, log } = options
  const steps: RampStep[] = []
  const self = () => cpuMs(process.pid)
  for (const rate of options.rates) {
    const forwards = await packFor(options.fleet, options.targets, Math.round(rate * options.stepSeconds))
    const cpuBefore: Record<string, number> = { ...options.cpuOf(), harness: self() }
    const errorsBefore = sender.httpErrors
    const from = epochMs()
    await sender.send(forwards, rate)
    await sender.settle(20_000)
    const to = epochMs()
    // Each step starts on an empty backlog: what a step left behind arrives (and is counted) in that
    // step, so a later step's latencies are its own.
    const deadline = Date.now() + DRAIN_LIMIT_MS
    await waitDelivered(ledger, from, to, DRAIN_LIMIT_MS)
    const drained = ledger.allDelivered(from, to)
    const drainS = drained ? round((epochMs() - to) / 1000, 1) : null
    // The CPU of confirming this step's deliveries is this step's, not the next one's.
    const idle = drained && options.waitIdle ? await options.waitIdle(deadline) : drained
    const idleS = options.waitIdle && idle ? round((epochMs() - to) / 1000, 1) : null
    const cpuAfter = { ...options.cpuOf(), harness: self() }
    const outcome = ledger.outcome(from, to)
    const latencies = ledger.latencies(from, to)
    const step: RampStep = {
      rate,
      sent: outcome.sent,
      acked: outcome.acked,
      delivered: outcome.delivered,
      lost: outcome.lost,
      http_errors: sender.httpErrors - errorsBefore,
      p50_ms: round(percentile(latencies, 50)),
      p95_ms: round(percentile(latencies, 95)),
      p99_ms: round(percentile(latencies, 99)),
      cpu_ms_per_forward: Object.fromEntries(
        Object.entries(cpuAfter).map(([k, v]) => [k, round((v - (cpuBefore[k] ?? 0)) / Math.max(1, outcome.sent), 3)]),
      ),
      ok: false,
      drain_s: drainS,
      idle_s: idleS,
      from_ms: Math.round(from),
      to_ms: Math.round(to),
    }
    step.ok = step.lost === 0 && step.delivered === step.sent && step.p99_ms <= P99_LIMIT_MS
    steps.push(step)
    log(
      `${options.label} ${rate}/s: ${step.delivered}/${step.sent} delivered, lost ${step.lost}, p50 ${step.p50_ms} p95 ${step.p95_ms} p99 ${step.p99_ms} ms ` +
        `drain ${drainS ?? 'not done'} s${options.waitIdle ? ` idle ${idleS ?? 'not reached'} s` : ''} ${step.ok ? 'OK' : 'LIMIT'} cpu/fwd ${JSON.stringify(step.cpu_ms_per_forward)}`,
    )
    if (!idle || (!step.ok && (rate >= 1000 || options.stopAtFirstFailure))) break
    await sleep(2_000)
  }
  return steps
}

/** The highest rate before the first failed step. */
export function maxHeld(steps: readonly RampStep[]): number {
  const firstFail = steps.findIndex((s) => !s.ok)
  return (firstFail === -1 ? steps : steps.slice(0, firstFail)).at(-1)?.rate ?? 0
}
