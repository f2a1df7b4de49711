import { round } from '../../support/percentile.js'
import { epochMs, inboundPending, packFor, sleep, waitDelivered, type RunContext } from '../run-context.js'

export interface StormResult {
  /** The relays killed together: the most loaded first, until they held STORM_SOCKETS. */
  relays_killed: string[]
  sockets_on_relays: number
  sockets_dropped: number
  sockets_reregistered: number
  reregister_s: number | null
  /** Seconds after the kill by which each share of the dropped sockets was live again. */
  reregister_curve: Array<{ seconds: number; live: number }>
  forwards_sent: number
  lost: number
  duplicates: number
  delivered_after_confirmation: number
  /** How long after the confirmation's answer each of those arrived (ms; the first 20). */
  after_confirmation_lag_ms: number[]
  /** Every PROGRESS_MS after the kill: how far the storm had come, and what held it up. */
  progress: StormProgress[]
  /** Since the kill, the wallets' attempts that did not end live, by how they ended. */
  wallet_outcomes: Record<string, number>
  /** At the end, over the running relays (a killed relay's counts are gone with it). */
  relay_counters: Record<string, number>
}

export interface StormProgress {
  seconds: number
  dropped: number
  live_again: number
  /** Sockets each relay holds. */
  relay_sockets: number[]
  /** Inbound jobs waiting for a worker or in progress (undefined: Redis did not answer). */
  inbound_pending: number | undefined
  /** The wallet clients by phase (connecting, awaiting-status, live, backing-off). */
  wallets: Record<string, number>
  /**
   * The longest any load process's event loop was held up in its last 5 s (ms): when it nears the relays'
   * heartbeat sweep (30 s), the wallets' pongs come too late and the relays terminate live sockets.
   */
  load_loop_delay_max_ms: number | undefined
}

const PROGRESS_MS = 15_000
const RELAY_COUNTERS = ['relay_messages_rejected_total', 'relay_heartbeat_terminations_total', 'relay_registry_lapses_total', 'relay_messages_accepted_total']

const STORM_RATE = 100
/**
 * The goal's storm: 20,000 wallets dropped at once. One process may hold at most 20,000 open files
 * here, so no relay holds that many; the storm kills as many of the fullest relays together as it
 * takes (all of them but one at most). They are started again at once, as an orchestrator restarts a
 * killed pod: the survivors alone could not take every wallet (each has the same 20,000 files).
 */
const STORM_SOCKETS = 20_000
// 20,000+ sockets re-register at the workers' pace (about 8 ms of worker CPU each, docs/benchmarks.md).
const STORM_TIMEOUT_MS = 600_000

/**
 * kill -9 of the relays holding the most live wallets (see STORM_SOCKETS) while forwards are in
 * flight: their wallets reconnect through haproxy to whichever relay is up (the survivors, then the
 * restarted ones too) and turn live mode on again.
 * Time until every dropped socket is live again, messages lost, and deliveries after confirmation.
 */
export async function storm(ctx: RunContext): Promise<StormResult> {
  const { topology, fleet, ledger, sender, log } = ctx
  const memory = await topology.relayMemory()
  const byLoad = memory.map((m, i) => ({ i, sockets: m.openSockets })).sort((a, b) => b.sockets - a.sockets)
  const victims: number[] = []
  let onRelays = 0
  for (const { i, sockets } of byLoad.slice(0, Math.max(1, byLoad.length - 1))) {
    if (onRelays >= Math.min(STORM_SOCKETS, ctx.load.live)) break
    victims.push(i)
    onRelays += sockets
  }
  const relayIds = victims.map((i) => topology.relays[i]?.relayId ?? '?')

  const dropped = new Map<number, number>()
  const relive = new Map<number, number>()
  let killedAt = Number.POSITIVE_INFINITY
  const outcomes: Record<string, number> = {}
  const unsubscribe = ctx.subscribe((events) => {
    for (const [id, at] of events.dropped) if (at >= killedAt && !dropped.has(id)) dropped.set(id, at)
    for (const [id, at] of events.live) if (dropped.has(id) && !relive.has(id)) relive.set(id, at)
    if (epochMs() >= killedAt) for (const [outcome, n] of Object.entries(events.outcomes)) outcomes[outcome] = (outcomes[outcome] ?? 0) + n
  })
  const progress: StormProgress[] = []
  const snapshot = async (): Promise<StormProgress> => {
    const memory = await topology.relayMemory().catch(() => [])
    return {
      seconds: round((epochMs() - killedAt) / 1000, 1),
      dropped: dropped.size,
      live_again: relive.size,
      relay_sockets: memory.map((m) => m.openSockets),
      inbound_pending: await inboundPending(topology.redis.url),
      wallets: ctx.load.phases(),
      load_loop_delay_max_ms: ctx.load.loopDelayMaxMs(),
    }
  }

  const forwards = await packFor(fleet, fleet.wallets, STORM_RATE * 40)
  const from = epochMs()
  const sending = sender.send(forwards, STORM_RATE)
  await sleep(10_000)
  log(`storm: kill -9 ${relayIds.join(', ')} holding ${onRelays} sockets`)
  killedAt = epochMs()
  await Promise.all(victims.map((i) => topology.kill9Relay(i)))
  const restarted = Promise.all(victims.map((i) => topology.startRelay(i)))
  // Done when every socket that dropped is live again, and the drops have stopped for a while.
  const deadline = Date.now() + STORM_TIMEOUT_MS
  let nextProgress = Date.now() + PROGRESS_MS
  while (Date.now() < deadline) {
    await sleep(500)
    if (dropped.size >= onRelays * 0.99 && relive.size >= dropped.size) break
    if (Date.now() < nextProgress) continue
    nextProgress += PROGRESS_MS
    const p = await snapshot()
    progress.push(p)
    log(`storm +${p.seconds}s: ${p.live_again}/${p.dropped} live again; relays hold ${p.relay_sockets.join('/')}; ${p.inbound_pending ?? '?'} jobs pending; load processes' loop delay up to ${p.load_loop_delay_max_ms ?? '?'} ms; wallets ${JSON.stringify(p.wallets)}; outcomes ${JSON.stringify(outcomes)}`)
  }
  progress.push(await snapshot())
  await sending
  await sender.settle()
  const to = epochMs()
  unsubscribe()
  // Unconfirmed deliveries to the dead sockets come back at the latest when their lease runs out (60 s).
  await waitDelivered(ledger, from, to, 90_000)
  await restarted

  const times = [...relive.values()].map((t) => (t - killedAt) / 1000).sort((a, b) => a - b)
  const curve = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1].map((q) => ({
    seconds: round(times[Math.max(0, Math.ceil(q * times.length) - 1)] ?? Number.NaN, 2),
    live: Math.ceil(q * times.length),
  }))
  const outcome = ledger.outcome(from, to)
  const result: StormResult = {
    relays_killed: relayIds,
    sockets_on_relays: onRelays,
    sockets_dropped: dropped.size,
    sockets_reregistered: relive.size,
    reregister_s: relive.size >= dropped.size && dropped.size > 0 ? round(times.at(-1) ?? 0, 2) : null,
    reregister_curve: curve,
    forwards_sent: outcome.sent,
    lost: outcome.lost,
    duplicates: ledger.duplicates,
    delivered_after_confirmation: ledger.afterConfirmationBetween(from, epochMs()),
    after_confirmation_lag_ms: ledger.afterConfirmationLags(from, epochMs()).slice(0, 20),
    progress,
    wallet_outcomes: outcomes,
    relay_counters: await topology.relayCounters(RELAY_COUNTERS),
  }
  log(`storm: ${relive.size}/${dropped.size} live again after ${result.reregister_s} s, lost ${result.lost}, after confirmation ${result.delivered_after_confirmation}`)
  return result
}
