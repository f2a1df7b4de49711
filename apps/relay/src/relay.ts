import { hostname } from 'node:os'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { RedisKeys } from '@mediator/contracts'
import type { RelayAnnouncement } from '@mediator/contracts'
import { createFailFastRedis, InboundOrder, InboundQueue, RelayRegistry } from '@mediator/redis'
import { createLogger } from '@mediator/config'
import { RelayChannelServer } from '@mediator/relay-channel'
import type { Logger } from '@mediator/config'
import type { RelayConfig } from './config.js'
import { RelayMetrics } from './metrics.js'
import { RecentlyClosed } from './recently-closed.js'
import { HeldRequests } from './held-requests.js'
import { HeartbeatSweep } from './heartbeat.js'
import { WsGateway } from './ws-gateway.js'
import { registerPublicRoutes } from './public-routes.js'
import { registerInvitationRoute } from './invitation-route.js'
import { registerInternalRoutes } from './internal-routes.js'
import { createBearerCheck } from './internal-auth.js'
import { SocketWriter } from './socket-writer.js'

export interface RelayDeps {
  logger?: Logger
  /** A connection to use instead of one made from `config.redisUrl`; the relay does not close it. */
  redis?: Redis
}

export interface RelayAddresses {
  publicUrl: string
  publicPort: number
  internalUrl: string
  internalPort: number
}

export interface Relay {
  readonly relayId: string
  readonly metrics: RelayMetrics
  readonly logger: Logger
  /** Listens on both ports and announces the relay; Redis need not be up (readiness says so). */
  start(): Promise<RelayAddresses>
  /** Resolves once `start()` has finished. */
  readonly ready: Promise<RelayAddresses>
  readonly draining: boolean
  /** Stops taking sockets, closes them with 1001, reports the closes, answers held requests, withdraws. */
  drain(): Promise<void>
  /** Stops everything at once (after `drain()` for a graceful stop). Safe to call twice. */
  close(): Promise<void>
}

/** Wires the relay's parts together; nothing listens until `start()`. */
export function buildRelay(config: RelayConfig, deps: RelayDeps = {}): Relay {
  const logger = deps.logger ?? createLogger({ service: 'relay', instance: config.relayId, level: config.logLevel })
  const redis = deps.redis ?? createFailFastRedis(config.redisUrl)
  const ownsRedis = deps.redis === undefined
  const keys = new RedisKeys(config.redisPrefix)
  const queue = new InboundQueue({
    connection: redis,
    keys,
    attempts: config.jobAttempts,
    backoffMs: config.jobBackoffMs,
    addTimeoutMs: config.enqueueTimeoutMs,
    ...(config.jobRemoveOnComplete !== undefined ? { removeOnComplete: config.jobRemoveOnComplete } : {}),
    ...(config.jobRemoveOnFail !== undefined ? { removeOnFail: config.jobRemoveOnFail } : {}),
  })
  const order = new InboundOrder({ redis, prefix: keys })
  // A connection of its own: in a reconnect storm the main one carries tens of thousands of job adds,
  // and a beat queued behind them for longer than its TTL made the relay look dead to the workers.
  const registryRedis = redis.duplicate()
  registryRedis.on('error', () => undefined)
  const registry = new RelayRegistry(registryRedis, keys)
  const metrics = new RelayMetrics(config.relayId)
  const recentlyClosed = new RecentlyClosed(config.recentlyClosedMax, config.recentlyClosedTtlMs)
  const held = new HeldRequests((id) => {
    recentlyClosed.add(id)
    metrics.heldRequests.dec()
  })

  let draining = false
  let closed = false
  const isDraining = () => draining

  const gateway = new WsGateway({ config, queue, order, metrics, recentlyClosed, logger, isDraining })
  const sweep = new HeartbeatSweep({ intervalMs: config.heartbeatIntervalMs, sweep: (slice) => gateway.sweep(slice) })

  const publicApp: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: config.maxMessageBytes,
    // Held requests wait up to the return-route timeout; let the socket live a little longer than that.
    requestTimeout: config.returnRouteTimeoutMs + 30_000,
  })
  registerPublicRoutes(publicApp, { config, queue, order, metrics, held, logger })
  registerInvitationRoute(publicApp, { redis, keys })
  publicApp.server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head))

  const writer = new SocketWriter(gateway, held, metrics, logger)
  const authorized = createBearerCheck(config.internalSecret)
  const channels = new RelayChannelServer({
    operations: writer,
    authorize: authorized,
    maxSendBytes: config.maxSendBytes,
    onError: (err, { where }) => logger.error({ err, where }, 'relay channel error'),
    onChannelsChanged: (open) => metrics.openChannels.set(open),
  })
  const internalApp: FastifyInstance = Fastify({ logger: false, bodyLimit: config.maxSendBytes })
  internalApp.server.on('upgrade', (req, socket, head) => channels.handleUpgrade(req, socket, head))
  registerInternalRoutes(internalApp, {
    relayId: config.relayId,
    gateway,
    held,
    recentlyClosed,
    metrics,
    writer,
    authorized,
    logger,
    isDraining,
    redisAnswers: () => pingRedis(redis),
  })

  let announcement: RelayAnnouncement | undefined
  let registryTimer: NodeJS.Timeout | undefined
  let announced = false
  const beat = async () => {
    if (!announcement || draining) return
    try {
      // The socket count rides on every beat, so operators see it next to the heartbeat's age.
      const { lapsed } = await registry.heartbeat({ ...announcement, sockets: gateway.size })
      metrics.registryHeartbeat.set(Date.now() / 1000)
      if (lapsed && announced) {
        const closed = gateway.closeForReregistration()
        metrics.registryLapses.inc()
        logger.warn({ relayId: config.relayId, closed }, 'relay registration had lapsed (paused, starved or Redis lost it): closed every socket so wallets register again')
      }
      announced = true
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'relay heartbeat failed')
    }
  }

  let resolveReady!: (a: RelayAddresses) => void
  const ready = new Promise<RelayAddresses>((resolve) => {
    resolveReady = resolve
  })

  async function start(): Promise<RelayAddresses> {
    await publicApp.listen({ host: config.publicHost, port: config.publicPort })
    await internalApp.listen({ host: config.internalHost, port: config.internalPort })
    const publicPort = (publicApp.server.address() as AddressInfo).port
    const internalPort = (internalApp.server.address() as AddressInfo).port
    const internalUrl = config.internalUrl ?? `http://${advertisedHost(config.internalHost)}:${internalPort}`
    announcement = {
      relayId: config.relayId,
      internalUrl,
      startedAt: Date.now(),
      heartbeatIntervalMs: config.registryHeartbeatMs,
      maxSendBytes: config.maxSendBytes,
    }
    // Announce as soon as Redis is there, but start without it: readiness reports it meanwhile.
    await Promise.all([waitForReady(redis, 2_000), waitForReady(registryRedis, 2_000)])
    await beat()
    registryRedis.on('ready', () => void beat())
    registryTimer = setInterval(() => void beat(), config.registryHeartbeatMs)
    registryTimer.unref()
    sweep.start()
    const addresses: RelayAddresses = {
      publicUrl: `http://${advertisedHost(config.publicHost)}:${publicPort}`,
      publicPort,
      internalUrl,
      internalPort,
    }
    logger.info({ relayId: config.relayId, ...addresses }, 'relay started')
    resolveReady(addresses)
    return addresses
  }

  async function drain(): Promise<void> {
    if (draining || closed) return
    draining = true
    const deadline = Date.now() + config.drainTimeoutMs
    logger.info({ openSockets: gateway.size, heldRequests: held.size }, 'draining')
    await gateway.closeAll(deadline)
    // Held requests get the rest of the grace period to receive their reply, then "no reply".
    while (held.size > 0 && Date.now() < deadline) await delay(25)
    held.answerAll({ kind: 'shutdown' })
    await gateway.idle(deadline)
    clearInterval(registryTimer)
    try {
      await registry.withdraw(config.relayId)
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not withdraw relay from the registry')
    }
    logger.info('drained')
  }

  async function close(): Promise<void> {
    if (closed) return
    closed = true
    draining = true
    sweep.stop()
    clearInterval(registryTimer)
    gateway.terminateAll()
    held.answerAll({ kind: 'shutdown' })
    // Upgraded channels are not the HTTP server's to close: without this it would wait for them.
    channels.close()
    await Promise.allSettled([publicApp.close(), internalApp.close()])
    await gateway.idle(Date.now() + 1_000)
    await queue.close(1_000)
    registryRedis.disconnect()
    if (ownsRedis) redis.disconnect()
  }

  return {
    relayId: config.relayId,
    metrics,
    logger,
    start,
    ready,
    get draining() {
      return draining
    },
    drain,
    close,
  }
}

async function pingRedis(redis: Redis): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      redis.ping().then((r) => r === 'PONG'),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 1_000)
      }),
    ])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

function waitForReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      redis.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    redis.once('ready', done)
  })
}

function advertisedHost(bindHost: string): string {
  if (bindHost === '0.0.0.0' || bindHost === '::') return hostname()
  return bindHost.includes(':') ? `[${bindHost}]` : bindHost
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
