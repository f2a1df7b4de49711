/**
 * How many wallets one relay holds, and what each costs.
 *
 *   npm run bench:relay -- --sockets 19000 [--relays 4] [--sends 3000] [--per-client 5000]
 *
 * Builds the relay, runs R relay processes from dist/ (with --expose-gc, so memory is read after a GC),
 * opens N WebSockets from several load processes (round-robin over the relays), then sends to random
 * sockets over a worker channel to each relay, finding each socket the way a worker does (the job of its first
 * frame and the relay registry), and measures until the load process receives the frame.
 * Writes bench-results/relay.json (or relay-<R>relays.json when R > 1).
 */
import { execSync, fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import { RelayChannel } from '@mediator/relay-channel'
import type { InboundMessageJob } from '@mediator/contracts'
import { RelayRegistry } from '@mediator/redis'
import { createTestRedisPrefix } from '@mediator/test-support'

const root = new URL('../../../', import.meta.url).pathname
const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '19000' },
    relays: { type: 'string', default: '1' },
    sends: { type: 'string', default: '3000' },
    'per-client': { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
    'skip-build': { type: 'boolean', default: false },
  },
})
const N = Number(values.sockets)
const R = Number(values.relays)
const SENDS = Number(values.sends)
const PER_CLIENT = Math.min(Number(values['per-client']), 18_000)
const CONCURRENCY = Number(values.concurrency)
const SECRET = randomBytes(24).toString('hex')

interface Memory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
  openSockets: number
  gcExposed: boolean
}
interface RelayProc {
  child: ChildProcess
  relayId: string
  publicPort: number
  internalUrl: string
}

const log = (msg: string) => process.stderr.write(`[bench:relay] ${msg}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function build(): void {
  if (values['skip-build']) return
  log('building @mediator/relay and its dependencies')
  try {
    execSync('npx turbo run build --filter=@mediator/relay...', { cwd: root, stdio: 'inherit' })
  } catch {
    log('turbo build failed; compiling the relay and its workspace dependencies with tsc')
    for (const ws of ['packages/contracts', 'packages/config', 'packages/redis', 'apps/relay']) {
      execSync('npx tsc -p tsconfig.build.json', { cwd: `${root}${ws}`, stdio: 'inherit' })
    }
  }
}

async function startRelay(i: number, prefix: string, redisUrl: string): Promise<RelayProc> {
  const relayId = `bench-relay-${i}`
  const child = spawn(process.execPath, ['--expose-gc', 'apps/relay/dist/main.js'], {
    cwd: root,
    env: {
      ...process.env,
      RELAY_ID: relayId,
      PUBLIC_HOST: '0.0.0.0',
      PUBLIC_PORT: '0',
      INTERNAL_HOST: '127.0.0.1',
      INTERNAL_PORT: '0',
      INTERNAL_SECRET: SECRET,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      DRAIN_TIMEOUT_MS: '30000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay ${relayId} exited with ${code}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const e = JSON.parse(line) as { msg: string; publicPort: number; internalUrl: string }
        if (e.msg === 'relay started') resolve({ child, relayId, publicPort: e.publicPort, internalUrl: e.internalUrl })
      } catch {
        // not a log line
      }
    })
  })
}

async function memory(r: RelayProc): Promise<Memory> {
  const res = await fetch(`${r.internalUrl}/debug/memory?gc=1`, { headers: { authorization: `Bearer ${SECRET}` } })
  return (await res.json()) as Memory
}

async function settledMemory(r: RelayProc): Promise<Memory> {
  await memory(r)
  await sleep(1_000)
  return memory(r)
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function main(): Promise<void> {
  build()
  const t = await createTestRedisPrefix('bench-relay')
  const keys = new RedisKeys(t.prefix)
  const redis = new Redis(t.redisUrl)
  const queue = new Queue(INBOUND_QUEUE_NAME, { connection: { url: t.redisUrl }, prefix: keys.bullPrefix })
  const relays: RelayProc[] = []
  const clients: ChildProcess[] = []
  try {
    for (let i = 0; i < R; i++) relays.push(await startRelay(i, t.prefix, t.redisUrl))
    await sleep(500)
    const before = await Promise.all(relays.map(settledMemory))
    log(`relays up: ${relays.map((r) => `${r.relayId} rss=${(before[relays.indexOf(r)]!.rss / 2 ** 20).toFixed(1)} MiB`).join(', ')}`)

    const processes = Math.ceil(N / PER_CLIENT)
    const received = new Map<string, number>()
    const connectStarted = performance.now()
    const connected = await Promise.all(
      Array.from({ length: processes }, (_, i) => {
        const count = Math.min(PER_CLIENT, N - i * PER_CLIENT)
        const child = fork(new URL('./load-client.ts', import.meta.url).pathname, [], {
          execArgv: ['--import', 'tsx'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        })
        clients.push(child)
        return new Promise<{ open: number; failed: number }>((resolve) => {
          child.on('message', (m: { type: string; open?: number; failed?: number; id?: string; t?: number }) => {
            if (m.type === 'ready') {
              child.send({
                type: 'start',
                targets: relays.map((r) => `ws://127.0.0.${2 + i}:${r.publicPort}/`),
                count,
                localAddress: `127.0.0.${2 + i}`,
                concurrency: 100,
              })
            }
            if (m.type === 'connected') resolve({ open: m.open!, failed: m.failed! })
            if (m.type === 'received') received.set(m.id!, m.t!)
          })
        })
      }),
    )
    const connectMs = performance.now() - connectStarted
    const failed = connected.reduce((s, c) => s + c.failed, 0)
    log(`opened ${connected.reduce((s, c) => s + c.open, 0)} sockets in ${(connectMs / 1000).toFixed(1)} s (${failed} failed)`)

    // Wait until every socket's first frame is stored: the relays are idle again.
    const deadline = Date.now() + 120_000
    let opened: InboundMessageJob[] = []
    while (Date.now() < deadline) {
      const count = await queue.getJobCountByTypes('waiting')
      if (count >= N - failed) break
      await sleep(500)
    }
    await sleep(2_000)
    const after = await Promise.all(relays.map(settledMemory))
    const held = after.reduce((s, m) => s + m.openSockets, 0)
    log(`held ${held} sockets; rss ${after.map((m) => (m.rss / 2 ** 20).toFixed(1)).join(', ')} MiB`)

    opened = (await queue.getJobs(['waiting'], 0, -1))
      .map((j) => j.data as InboundMessageJob)
      .filter((d) => d.kind === 'message')
    if (opened.length === 0) throw new Error('no socket\'s first frame was stored: nothing to send to (see the relays\' logs)')
    const registry = new RelayRegistry(redis, keys)
    // One channel per relay, as a worker holds them.
    const channels = new Map<string, RelayChannel>()
    for (const r of await registry.listAlive()) channels.set(r.relayId, new RelayChannel({ url: r.internalUrl, secret: SECRET }))

    // Sends to random sockets, CONCURRENCY at a time, each timed until its load process has the frame.
    const sentAt = new Map<string, number>()
    const statuses = new Map<number, number>()
    let nextSend = 0
    const pad = 'x'.repeat(512)
    const sender = async () => {
      while (nextSend < SENDS) {
        const n = nextSend++
        const target = opened[Math.floor(Math.random() * opened.length)]!
        const id = `s${n}`
        const body = `{"id":"${id}","pad":"${pad}"}`
        sentAt.set(id, performance.timeOrigin + performance.now())
        const status = await channels.get(target.relayId)!.send(target.socketId, body)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
    }
    const sendStarted = performance.now()
    await Promise.all(Array.from({ length: CONCURRENCY }, sender))
    const sendEnd = Date.now() + 10_000
    while (received.size < (statuses.get(200) ?? 0) && Date.now() < sendEnd) await sleep(50)
    const sendMs = performance.now() - sendStarted
    for (const channel of channels.values()) channel.close()
    const latencies = [...received].map(([id, t]) => t - (sentAt.get(id) ?? t)).sort((a, b) => a - b)
    const relayRss = after.reduce((s, m) => s + m.rss, 0)
    const rssDelta = after.reduce((s, m, i) => s + (m.rss - before[i]!.rss), 0)
    const heapDelta = after.reduce((s, m, i) => s + (m.heapUsed - before[i]!.heapUsed), 0)

    // SIGTERM the relays: they close every socket with 1001 and report the closes.
    const drainStarted = performance.now()
    await Promise.all(
      relays.map(
        (r) =>
          new Promise<void>((resolve) => {
            r.child.removeAllListeners('exit')
            r.child.once('exit', () => resolve())
            r.child.kill('SIGTERM')
          }),
      ),
    )
    const drainMs = performance.now() - drainStarted

    const result = {
      benchmark: 'relay',
      date: new Date().toISOString(),
      command: `npm run bench:relay -- --sockets ${N} --relays ${R} --sends ${SENDS}`,
      node: process.version,
      cpus: cpus().length,
      total_memory_bytes: totalmem(),
      relays: R,
      load_processes: processes,
      sockets_requested: N,
      sockets_held: held,
      sockets_failed: failed,
      sockets_per_relay: after.map((m) => m.openSockets),
      connect_seconds: Number((connectMs / 1000).toFixed(2)),
      rss_bytes: relayRss,
      rss_bytes_per_relay: after.map((m) => m.rss),
      rss_before_bytes: before.reduce((s, m) => s + m.rss, 0),
      rss_per_socket_bytes: Math.round(rssDelta / held),
      heap_per_socket_bytes: Math.round(heapDelta / held),
      external_per_socket_bytes: Math.round(after.reduce((s, m, i) => s + (m.external - before[i]!.external), 0) / held),
      gc_exposed: after.every((m) => m.gcExposed),
      sends: SENDS,
      send_concurrency: CONCURRENCY,
      send_statuses: Object.fromEntries(statuses),
      sends_received: received.size,
      sends_per_second: Math.round((SENDS / sendMs) * 1000),
      send_p50_ms: Number(percentile(latencies, 50).toFixed(3)),
      send_p90_ms: Number(percentile(latencies, 90).toFixed(3)),
      send_p99_ms: Number(percentile(latencies, 99).toFixed(3)),
      send_max_ms: Number((latencies.at(-1) ?? NaN).toFixed(3)),
      drain_seconds: Number((drainMs / 1000).toFixed(2)),
    }
    mkdirSync(`${root}bench-results`, { recursive: true })
    const file = `${root}bench-results/${R === 1 ? 'relay.json' : `relay-${R}relays.json`}`
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    log(`wrote ${file}`)
  } finally {
    for (const c of clients) c.kill('SIGKILL')
    for (const r of relays) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL')
    await queue.close()
    redis.disconnect()
    await t.cleanup()
  }
}

await main()
