import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Queue } from 'bullmq'
import type { Job } from 'bullmq'
import { Redis } from 'ioredis'
import { WebSocket } from 'ws'
import { vi } from 'vitest'
import { INBOUND_QUEUE_NAME, RedisKeys, inboundJobSchema } from '@mediator/contracts'
import type { InboundJob } from '@mediator/contracts'
import { InboundOrderKeys } from '@mediator/redis'
import { createTestRedisPrefix, freePort } from '@mediator/test-support'
import type { TestRedisPrefix } from '@mediator/test-support'
import { createLogger } from '@mediator/config'
import { buildRelay, loadRelayConfig } from '../src/index.js'
import type { Relay, RelayAddresses } from '../src/index.js'

export const SECRET = 'test-secret-0123456789'
export const auth = { authorization: `Bearer ${SECRET}` }

/** A DIDComm v1 JWE shape with a real base64url protected header; the ciphertext is filler. */
export function envelope(alg: 'Authcrypt' | 'Anoncrypt', marker = 'x'): string {
  const header = { enc: 'xchacha20poly1305_ietf', typ: 'JWM/1.0', alg, recipients: [{ encrypted_key: 'k', header: { kid: 'z' } }] }
  return JSON.stringify({
    protected: Buffer.from(JSON.stringify(header)).toString('base64url'),
    iv: 'aXY',
    ciphertext: Buffer.from(marker).toString('base64url'),
    tag: 'dGFn',
  })
}

export interface TestRelay {
  relay: Relay
  addr: RelayAddresses
  wsUrl: string
  httpUrl: string
  internal: (path: string, init?: RequestInit) => Promise<Response>
}

export interface RelayFixture {
  t: TestRedisPrefix
  keys: RedisKeys
  reader: Queue
  start(env?: Record<string, string>): Promise<TestRelay>
  /** Inbound jobs in the order they were added. */
  jobs(): Promise<Array<Job<InboundJob>>>
  waitForJobs(match: (j: InboundJob) => boolean, count?: number): Promise<InboundJob[]>
  /** Message ids registered as open in the acknowledgement order (no worker has finished them). */
  orderOpen(): Promise<string[]>
  cleanup(): Promise<void>
}

export function relayEnv(prefix: string, redisUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    INTERNAL_SECRET: SECRET,
    PUBLIC_HOST: '127.0.0.1',
    PUBLIC_PORT: '0',
    INTERNAL_HOST: '127.0.0.1',
    INTERNAL_PORT: '0',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    ...env,
  }
}

/** One Redis prefix per test file, relays started in this process, everything closed by `cleanup`. */
export async function relayFixture(label: string): Promise<RelayFixture> {
  const t = await createTestRedisPrefix(label)
  const keys = new RedisKeys(t.prefix)
  const reader = new Queue(INBOUND_QUEUE_NAME, { connection: { url: t.redisUrl }, prefix: keys.bullPrefix })
  const relays: Relay[] = []
  const jobs = async () => (await reader.getJobs(['waiting'], 0, -1, true)) as Array<Job<InboundJob>>
  return {
    t,
    keys,
    reader,
    async start(env = {}) {
      const config = loadRelayConfig(relayEnv(t.prefix, t.redisUrl, env))
      const relay = buildRelay(config, { logger: createLogger({ service: 'relay-test', level: 'silent' }) })
      relays.push(relay)
      const addr = await relay.start()
      return {
        relay,
        addr,
        wsUrl: `ws://127.0.0.1:${addr.publicPort}/ws`,
        httpUrl: `http://127.0.0.1:${addr.publicPort}/`,
        internal: (path, init = {}) =>
          fetch(`${addr.internalUrl}${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } }),
      }
    },
    jobs,
    async waitForJobs(match, count = 1) {
      let found: InboundJob[] = []
      await vi.waitFor(
        async () => {
          found = (await jobs()).map((j) => inboundJobSchema.parse(j.data)).filter(match)
          if (found.length < count) throw new Error(`${found.length}/${count} jobs`)
        },
        { timeout: 10_000, interval: 25 },
      )
      return found
    },
    async orderOpen() {
      const client = await reader.client
      return client.zrange(new InboundOrderKeys(keys).open, 0, -1)
    },
    async cleanup() {
      await Promise.allSettled(relays.map((r) => r.close()))
      await reader.close()
      await t.cleanup()
    },
  }
}

/** The value of the relay's first sample matching `pattern` (its value captured), 0 when there is none. */
export async function metricValue(r: TestRelay, pattern: RegExp): Promise<number> {
  const text = await (await r.internal('/metrics')).text()
  return Number(pattern.exec(text)?.[1] ?? 0)
}

/** Sockets waiting on a job add (`relay_ws_pending_adds`). */
export const pendingAdds = (r: TestRelay): Promise<number> => metricValue(r, /^relay_ws_pending_adds\{[^}]*\} (\S+)$/m)

/** A WebSocket client that records what it receives. */
export interface TestClient {
  ws: WebSocket
  received: string[]
  closed: Promise<{ code: number; reason: string }>
  nextMessage(): Promise<string>
}

export async function connect(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<TestClient> {
  const ws = new WebSocket(url, opts)
  const received: string[] = []
  let waiter: ((m: string) => void) | undefined
  ws.on('message', (data: Buffer) => {
    const text = data.toString('utf8')
    received.push(text)
    waiter?.(text)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  ws.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    ws.once('error', reject)
  })
  return {
    ws,
    received,
    closed,
    nextMessage: () =>
      new Promise<string>((resolve) => {
        const before = received.length
        waiter = (m) => {
          if (received.length > before) {
            waiter = undefined
            resolve(m)
          }
        }
      }),
  }
}

/** Sends a frame and waits until ws has written it, so a following step happens after it. */
export function sendFrame(ws: WebSocket, data: string | Buffer, binary = false): Promise<void> {
  return new Promise((resolve, reject) => ws.send(data, { binary }, (err) => (err ? reject(err) : resolve())))
}

export { freePort as unusedPort } from '@mediator/test-support'

export interface RelayProcess {
  child: ChildProcess
  addr: RelayAddresses
  relayId: string
  exited: Promise<number | null>
}

/** Runs the relay as its own process from the TypeScript sources, as an operator would run main. */
export async function spawnRelay(env: Record<string, string>): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'apps/relay/src/main.ts'], {
    cwd: new URL('../../../', import.meta.url).pathname,
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const lines = createInterface({ input: child.stdout! })
  const started = await new Promise<{ addr: RelayAddresses; relayId: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('relay process did not start')), 30_000)
    void exited.then((code) => reject(new Error(`relay process exited with ${code}`)))
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; relayId: string } & RelayAddresses
        if (entry.msg === 'relay started') {
          clearTimeout(timer)
          resolve({ addr: entry, relayId: entry.relayId })
        }
      } catch {
        // not a log line
      }
    })
  })
  return { child, exited, ...started }
}

/** A private redis-server this test may stop; the shared one is never touched. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null })
  probe.on('error', () => undefined)
  await probe.connect().catch(() => undefined)
  await probe.ping()
  probe.disconnect()
  return child
}

export async function stopRedis(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}


/**
 * A relay on a private Redis the test may freeze (SIGSTOP): every job add then waits, as it does on a
 * Redis starved in a reconnect storm. Adds wait up to 20 s and are retried for 30 s unless `env` says
 * otherwise, so a frozen Redis holds sockets paused rather than closing them with 1013.
 */
export interface FrozenRedisRelay {
  start(env?: Record<string, string>): Promise<TestRelay>
  freeze(): void
  thaw(): void
  cleanup(): Promise<void>
}

export async function frozenRedisRelayFixture(label: string): Promise<FrozenRedisRelay> {
  const f = await relayFixture(label)
  let redis: ChildProcess | undefined
  return {
    async start(env = {}) {
      const port = await freePort()
      redis = await startRedis(port)
      return f.start({ REDIS_URL: `redis://127.0.0.1:${port}`, ENQUEUE_TIMEOUT_MS: '20000', WS_ENQUEUE_RETRY_MS: '30000', ...env })
    },
    freeze: () => void redis?.kill('SIGSTOP'),
    thaw: () => void redis?.kill('SIGCONT'),
    async cleanup() {
      if (redis) {
        redis.kill('SIGCONT')
        await stopRedis(redis)
      }
      await f.cleanup()
    },
  }
}
