/**
 * One load process of `bench:cluster`: holds its share of wallet sockets (each a WalletClient in
 * pickup v2 live mode, through the haproxy frontends, from its own source address), and reports
 * deliveries, confirmations, live-mode confirmations and dropped sockets to the harness every 100 ms.
 * A process may hold at most 20,000 open files here, hence several of these.
 */
import { readdirSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import type { AgentContext } from '@credo-ts/core'
import type pg from 'pg'
import { SodiumKeyManagementService } from '@mediator/kms'
import { PeerKeyCache } from '../../../src/forward/index.js'
import { connectFailureKind, WalletClient } from '../../wallet-client.js'
import { schemaPool } from '../schema-pool.js'
import type { FromLoad, LoadEvents, StartTask, ToLoad } from './protocol.js'

const send = (message: FromLoad) => process.send?.(message)
const clients: WalletClient[] = []
let pool: pg.Pool | undefined
const noEvents = (): LoadEvents => ({ type: 'events', deliveries: [], confirmed: [], live: [], dropped: [], outcomes: {} })
let events = noEvents()
const now = () => performance.timeOrigin + performance.now()
/** Every client started, connected or not (`clients` holds only those whose first connect succeeded). */
const started: WalletClient[] = []
let batches = 0
const FIRST_CONNECT_ATTEMPTS = 3
const FIRST_CONNECT_RETRY_MS = 2_000
const loopDelay = monitorEventLoopDelay({ resolution: 20 })
loopDelay.enable()

setInterval(() => {
  // Every 5 s, where the clients are: a storm's progress, seen from the wallets.
  if (++batches % 50 === 0 && started.length > 0) {
    const phases: Record<string, number> = {}
    for (const client of started) phases[client.phase] = (phases[client.phase] ?? 0) + 1
    events.phases = phases
    events.loopDelayMaxMs = Math.round(loopDelay.max / 1e6)
    loopDelay.reset()
  }
  const { deliveries, confirmed, live, dropped, outcomes, phases } = events
  if (deliveries.length + confirmed.length + live.length + dropped.length + Object.keys(outcomes).length === 0 && !phases) return
  send(events)
  events = noEvents()
}, 100).unref()

const cpuMsNow = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

async function start(task: StartTask): Promise<void> {
  const cpuAtStart = cpuMsNow()
  pool = schemaPool(task.keys.url, task.keys.schema, 2)
  const kms = await SodiumKeyManagementService.create({ pool, masterKey: new Uint8Array(Buffer.from(task.keys.masterKeyHex, 'hex')) })
  // The KMS reads nothing of a context but its correlation id; every wallet agent used the default one.
  const ctx = { contextCorrelationId: 'default' } as AgentContext
  const peers = new PeerKeyCache()
  let next = 0
  const failures: Record<string, number> = {}
  const open = async () => {
    while (next < task.sockets.length) {
      const socket = task.sockets[next++]
      if (!socket) break
      const { connection } = socket
      const client = new WalletClient(
        { label: `${connection.label}#${socket.id}`, kms, ctx, ourKey: { publicKey: connection.publicKey, keyId: connection.keyId }, mediatorKey: connection.mediatorKey },
        `${(task.urls[socket.id % task.urls.length] ?? '').replace('http://', 'ws://')}/`,
        (tag, messageId) => events.deliveries.push([tag, messageId, now()]),
        task.ackMs,
        {
          localAddress: task.localAddress,
          peers,
          reconnect: true,
          onLive: () => events.live.push([socket.id, now()]),
          onDropped: () => events.dropped.push([socket.id, now()]),
          onOutcome: (outcome) => void (events.outcomes[outcome] = (events.outcomes[outcome] ?? 0) + 1),
          onConfirmed: (ids) => {
            const t = now()
            for (const id of ids) events.confirmed.push([id, t])
          },
        },
      )
      started.push(client)
      // A wallet whose socket did not open (a handshake that timed out on the busy machine, a 503 busy)
      // tries again after a pause, as an app does. One whose socket opened and then failed is given up:
      // its socket's close may already have started the client's own reconnect, which terminate() stops.
      let connected = false
      let lastFailure = ''
      for (let attempt = 1; attempt <= FIRST_CONNECT_ATTEMPTS && !connected; attempt++) {
        try {
          await client.connect()
          connected = true
        } catch (error) {
          lastFailure = connectFailureKind(error)
          if (client.phase !== 'connecting' || attempt === FIRST_CONNECT_ATTEMPTS) break
          await delay(FIRST_CONNECT_RETRY_MS * attempt)
        }
      }
      if (connected) clients.push(client)
      else {
        client.terminate()
        failures[lastFailure] = (failures[lastFailure] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: task.concurrency }, open))
  send({ type: 'connected', live: clients.length, failures, fds: readdirSync('/proc/self/fd').length, cpuMs: cpuMsNow() - cpuAtStart })
}

process.on('message', (message: ToLoad) => {
  if (message.type === 'start') {
    start(message).catch((error: unknown) => {
      process.stderr.write(`load process failed: ${String(error)}\n`)
      process.exit(1)
    })
  }
  if (message.type === 'stop') {
    for (const client of clients) client.terminate()
    void pool?.end().finally(() => process.exit(0))
  }
})
send({ type: 'ready' })
