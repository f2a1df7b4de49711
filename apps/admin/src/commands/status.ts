import { DeadLetters, InboundOrder, LiveSessionDirectory, PickupQueueInspector, RelayRegistry, WorkerRegistry } from '@mediator/redis'
import type { ClusterConnections } from '../connections.js'
import { table, type Output } from '../output.js'
import { formatDuration } from '../time.js'

export interface RelayStatus {
  relayId: string
  alive: boolean
  /** Since its last beat (ms, by this machine's clock against the relay's). */
  heartbeatAgeMs?: number
  /** WebSockets it held at its last beat. */
  sockets?: number
  /** Of those, sockets with a live pickup session in the directory. */
  liveSockets: number
  internalUrl: string
  startedAt: number
}

export interface WorkerStatus {
  workerId: string
  alive: boolean
  heartbeatAgeMs?: number
  concurrency: number
  host?: string
  pid?: number
  startedAt: number
}

export interface ClusterStatus {
  prefix: string
  at: number
  relays: RelayStatus[]
  workers: WorkerStatus[]
  /** Connections BullMQ sees consuming the inbound queue (one per worker process). */
  inboundConsumers: number
  inbound: { waiting: number; active: number; delayed: number; prioritized: number; failed: number; oldestWaitingAgeMs?: number }
  liveSessions: number
  deadLetters: number
  pickup: { connectionsWithMessages: number; oldestMessageAgeMs?: number; connectionsWithRunOutLeases: number; expiredTotal: number }
  order: { open: number; deferred: number; oldestOpenForMs?: number }
}

/** Reads every figure of `status` under the deployment prefix. Changes nothing. */
export async function readStatus(c: ClusterConnections): Promise<ClusterStatus> {
  const now = Date.now()
  const deadLetters = new DeadLetters(c.redis, c.keys)
  try {
    const directory = new LiveSessionDirectory({ redis: c.redis, prefix: c.keys })
    const [relays, workers, counts, oldestWaiting, consumers, pickup, order] = await Promise.all([
      new RelayRegistry(c.redis, c.keys).listAll(),
      new WorkerRegistry(c.redis, c.keys).listAll(),
      deadLetters.inbound.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'),
      deadLetters.inbound.getJobs(['waiting'], 0, 0, true),
      deadLetters.inbound.getWorkersCount(),
      new PickupQueueInspector(c.redis, c.keys).overview(),
      new InboundOrder({ redis: c.redis, prefix: c.keys }).getStats(),
    ])
    const relayStatus: RelayStatus[] = []
    for (const { announcement: a, alive, lastBeatAt } of relays) {
      relayStatus.push({
        relayId: a.relayId,
        alive,
        ...(lastBeatAt !== undefined ? { heartbeatAgeMs: Math.max(0, now - lastBeatAt) } : {}),
        ...(a.sockets !== undefined ? { sockets: a.sockets } : {}),
        liveSockets: await directory.countLiveSockets([a.relayId]),
        internalUrl: a.internalUrl,
        startedAt: a.startedAt,
      })
    }
    const oldest = oldestWaiting[0]
    return {
      prefix: c.keys.prefix,
      at: now,
      relays: relayStatus,
      workers: workers.map(({ announcement: a, alive, lastBeatAt }) => ({
        workerId: a.workerId,
        alive,
        ...(lastBeatAt !== undefined ? { heartbeatAgeMs: Math.max(0, now - lastBeatAt) } : {}),
        concurrency: a.concurrency,
        ...(a.host !== undefined ? { host: a.host } : {}),
        ...(a.pid !== undefined ? { pid: a.pid } : {}),
        startedAt: a.startedAt,
      })),
      inboundConsumers: consumers,
      inbound: {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        prioritized: counts.prioritized ?? 0,
        failed: counts.failed ?? 0,
        ...(oldest ? { oldestWaitingAgeMs: Math.max(0, now - oldest.timestamp) } : {}),
      },
      // The same figure as the workers' mediator_live_sessions gauge: live sockets on relays alive.
      liveSessions: relayStatus.filter((r) => r.alive).reduce((sum, r) => sum + r.liveSockets, 0),
      deadLetters: counts.failed ?? 0,
      pickup: {
        connectionsWithMessages: pickup.connectionsWithMessages,
        ...(pickup.oldestQueuedAt !== undefined ? { oldestMessageAgeMs: Math.max(0, pickup.at - pickup.oldestQueuedAt) } : {}),
        connectionsWithRunOutLeases: pickup.connectionsWithRunOutLeases,
        expiredTotal: pickup.expiredTotal,
      },
      order,
    }
  } finally {
    await deadLetters.close()
  }
}

export async function statusCommand(c: ClusterConnections, out: Output): Promise<void> {
  out.result(await readStatus(c), (s) => {
    const age = (ms: number | undefined) => (ms === undefined ? '-' : formatDuration(ms))
    out.line(`prefix ${s.prefix}`)
    out.line()
    out.line(`relays (${s.relays.filter((r) => r.alive).length} alive of ${s.relays.length} announced)`)
    if (s.relays.length > 0) {
      const rows = s.relays.map((r) => [r.relayId, r.alive ? 'alive' : 'DEAD', age(r.heartbeatAgeMs), String(r.sockets ?? '-'), String(r.liveSockets), r.internalUrl])
      for (const l of table(['  relay', 'state', 'heartbeat', 'sockets', 'live', 'internal url'], rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]))) out.line(l)
    }
    out.line()
    out.line(`workers (${s.workers.filter((w) => w.alive).length} alive of ${s.workers.length} announced; ${s.inboundConsumers} inbound consumer connections)`)
    if (s.workers.length > 0) {
      const rows = s.workers.map((w) => [`  ${w.workerId}`, w.alive ? 'alive' : 'DEAD', age(w.heartbeatAgeMs), String(w.concurrency), w.host ?? '-', age(s.at - w.startedAt)])
      for (const l of table(['  worker', 'state', 'heartbeat', 'concurrency', 'host', 'up'], rows)) out.line(l)
    }
    out.line()
    const q = s.inbound
    out.line(`inbound queue   waiting ${q.waiting}  active ${q.active}  delayed ${q.delayed}  failed ${q.failed}  oldest waiting ${age(q.oldestWaitingAgeMs)}`)
    out.line(`live sessions   ${s.liveSessions}`)
    out.line(`dead letters    ${s.deadLetters}`)
    const p = s.pickup
    out.line(`pickup queues   ${p.connectionsWithMessages} wallets with messages  oldest ${age(p.oldestMessageAgeMs)}  run-out leases ${p.connectionsWithRunOutLeases}  expired total ${p.expiredTotal}`)
    out.line(`order           ${s.order.open} forwards in process  ${s.order.deferred} deferred  oldest open ${age(s.order.oldestOpenForMs)}`)
  })
}
