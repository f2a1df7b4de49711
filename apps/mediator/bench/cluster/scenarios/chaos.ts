import { round } from '../../support/percentile.js'
import { deadLetterReasons, deadLetters, epochMs, packFor, sleep, waitDelivered, type RunContext } from '../run-context.js'

import type { FAULTS } from '../args.js'

export type FaultName = (typeof FAULTS)[number]

export interface FaultResult {
  fault: FaultName
  at_s: number
  sent: number
  lost: number
  delivered_after_confirmation: number
  /** How long after the confirmation's answer each of those arrived (ms; the first 20). */
  after_confirmation_lag_ms: number[]
  dead_letters: number | null
  /** Seconds from the fault until deliveries were back at 90% of the offered rate for 3 s running. */
  full_rate_again_s: number | null
}

export interface ChaosResult {
  rate: number
  faults: FaultResult[]
  /** Why dead-lettered jobs failed (BullMQ's failedReason), the first few. */
  dead_letter_reasons: string[]
  /** Deliveries per second over the whole scenario, with when each fault hit (for the chart). */
  timeline: Array<{ t: number; delivered: number }>
}

const LEAD_MS = 10_000

async function inject(ctx: RunContext, fault: FaultName): Promise<void> {
  const { topology } = ctx
  if (fault === 'kill-worker') {
    await topology.kill9Worker(0)
    await sleep(5_000)
    await topology.startWorker(0)
  } else if (fault === 'kill-relay') {
    const last = topology.relays.length - 1
    await topology.kill9Relay(last)
    await sleep(5_000)
    await topology.startRelay(last)
  } else if (fault === 'kill-redis') {
    await topology.redis.kill9()
    await sleep(2_000)
    await topology.redis.restart()
  } else {
    await topology.postgres.stop()
    await sleep(20_000)
    await topology.postgres.start()
  }
}

/**
 * Scenario 2's load at `rate` (half its max) all along, and one fault per window: kill -9 a worker,
 * kill -9 a relay, kill -9 Redis (AOF, fsync always) and start it again, stop Postgres for 20 s.
 * Each forward is charged to the window it was sent in.
 */
export async function chaos(ctx: RunContext, rate: number): Promise<ChaosResult> {
  const { fleet, ledger, sender, topology, args, log } = ctx
  const faults: FaultName[] = args.faults
  // Postgres stays down 20 s: a window must hold that and the recovery after it.
  const windowMs = Math.max(30_000, args.duration * 1000)
  const totalMs = LEAD_MS + faults.length * windowMs
  await topology.setAppendFsync('always')
  log(`chaos: ${rate}/s for ${Math.round(totalMs / 1000)} s, a fault every ${windowMs / 1000} s`)
  const forwards = await packFor(fleet, fleet.wallets, Math.round((rate * totalMs) / 1000))
  const start = epochMs()
  const sending = sender.send(forwards, rate)
  const windows: Array<{ fault: FaultName; at: number; from: number; to: number; deadBefore: number | undefined }> = []
  for (const [i, fault] of faults.entries()) {
    const from = start + LEAD_MS + i * windowMs
    while (epochMs() < from) await sleep(100)
    const deadBefore = await deadLetters(topology.redis.url)
    const at = epochMs()
    log(`chaos: ${fault}`)
    await inject(ctx, fault).catch((error: unknown) => log(`chaos: ${fault} failed: ${String(error)}`))
    windows.push({ fault, at, from, to: from + windowMs, deadBefore })
  }
  await sending
  await sender.settle()
  const end = epochMs()
  await waitDelivered(ledger, start, end, 90_000)
  const deadEnd = await deadLetters(topology.redis.url)

  const results = windows.map((w, i): FaultResult => {
    const outcome = ledger.outcome(w.from, w.to)
    const deadNext = windows[i + 1]?.deadBefore ?? deadEnd
    let fullAgain: number | null = null
    for (let s = Math.floor(w.at / 1000); s < Math.floor(w.to / 1000) + 30; s++) {
      const ok = [0, 1, 2].every((k) => (ledger.perSecond.get(s + k) ?? 0) >= rate * 0.9)
      if (ok) {
        fullAgain = round(Math.max(0, s - w.at / 1000), 1)
        break
      }
    }
    return {
      fault: w.fault,
      at_s: round((w.at - start) / 1000, 1),
      sent: outcome.sent,
      lost: outcome.lost,
      delivered_after_confirmation: ledger.afterConfirmationBetween(w.from, i === windows.length - 1 ? epochMs() : w.to),
      after_confirmation_lag_ms: ledger.afterConfirmationLags(w.from, i === windows.length - 1 ? epochMs() : w.to).slice(0, 20),
      dead_letters: w.deadBefore === undefined || deadNext === undefined ? null : deadNext - w.deadBefore,
      full_rate_again_s: fullAgain,
    }
  })
  for (const r of results) log(`chaos: ${r.fault}: lost ${r.lost}, after confirmation ${r.delivered_after_confirmation}, dead letters ${r.dead_letters}, full rate again after ${r.full_rate_again_s} s`)
  const timeline: ChaosResult['timeline'] = []
  for (let s = Math.floor(start / 1000); s <= Math.floor(end / 1000); s++) timeline.push({ t: s - Math.floor(start / 1000), delivered: ledger.perSecond.get(s) ?? 0 })
  const reasons = await deadLetterReasons(topology.redis.url, 5)
  for (const reason of reasons) log(`chaos: dead letter: ${reason}`)
  return { rate, faults: results, dead_letter_reasons: reasons, timeline }
}
