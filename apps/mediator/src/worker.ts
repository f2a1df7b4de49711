import pg from 'pg'
import { Redis } from 'ioredis'
import { Queue } from 'bullmq'
import type { FastifyInstance } from 'fastify'
import { LogLevel } from '@credo-ts/core'
import { DidCommEventTypes, type DidCommMessageProcessedEvent } from '@credo-ts/didcomm'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import type { Logger } from '@mediator/config'
import { PinoCredoLogger } from '@mediator/credo-runtime'
import { decodeMasterKey, SodiumKeyManagementService } from '@mediator/kms'
import { PostgresStorageService } from '@mediator/storage-postgres'
import { InboundOrder, LiveSessionDirectory, RedisPickupQueue, RelayRegistry, WorkerRegistry } from '@mediator/redis'
import { resolvePushSettings } from '@mediator/push-notifications'
import type { MediatorConfig } from './config.js'
import { MediatorMetrics } from './metrics.js'
import { createMediatorAgent, type MediatorAgent } from './agent/mediator-agent.js'
import { ClusterModule } from './agent/cluster-module.js'
import { MediationPolicy, MediatorProtocolsModule } from './protocols/index.js'
import { RelayClient } from './relay/relay-client.js'
import { BackgroundWrites } from './pickup/background-writes.js'
import { LiveDelivery } from './pickup/live-delivery.js'
import { DeliveringQueue } from './pickup/delivering-queue.js'
import { ClusterPickupSessionService } from './pickup/cluster-pickup-session-service.js'
import { SocketLifecycle } from './pickup/socket-lifecycle.js'
import { createRelayProbe } from './relay/relay-probe.js'
import { RetentionSweeper } from './pickup/retention-sweeper.js'
import { LeaseSweeper } from './pickup/lease-sweeper.js'
import { HeldDeliveries } from './pickup/held-deliveries.js'
import { ImplicitPickup } from './pickup/implicit-pickup.js'
import { JobProcessor } from './inbound/job-processor.js'
import { JobScope } from './inbound/job-scope.js'
import { InboundConsumer } from './inbound/inbound-consumer.js'
import { oldestWaitingSeconds } from './inbound/inbound-backlog.js'
import { buildOpsServer } from './http/ops-server.js'
import { WorkerPresence } from './worker-presence.js'
import { EnvelopePacker, FastDeliveryPacker, startForwardFastPath } from './forward/index.js'
import { ConnectionByKeysQuery, CreatedDidCache, createPickupFastPath, ShortcutChain } from './pickup-fast/index.js'
import { createPushNotifier, PushDeviceStore, PushMetrics, PushNotificationsModule, type PushNotifier } from './push/index.js'
import {
  ensureMediatorInvitation,
  publishMediatorInvitation,
  type MediatorInvitation,
} from './invitation/mediator-invitation.js'

const credoLogLevels: Record<MediatorConfig['CREDO_LOG_LEVEL'], LogLevel> = {
  trace: LogLevel.trace,
  debug: LogLevel.debug,
  info: LogLevel.info,
  warn: LogLevel.warn,
  error: LogLevel.error,
  off: LogLevel.off,
}

/**
 * One mediator worker: a Credo agent on the shared Postgres and Redis, consuming inbound jobs. Built
 * with `buildMediatorWorker`, then `start()`; `close()` stops taking jobs, finishes those in progress
 * and releases every connection. Nothing a wallet needs lives only in this process.
 */
export class MediatorWorker {
  private invitationValue?: MediatorInvitation
  private consumer?: InboundConsumer
  private ops?: FastifyInstance
  private started = false
  private closing = false

  public constructor(
    public readonly config: MediatorConfig,
    public readonly logger: Logger,
    public readonly metrics: MediatorMetrics,
    public readonly agent: MediatorAgent,
    private readonly resources: {
      pool: pg.Pool
      redis: Redis
      bullRedis: Redis
      keys: RedisKeys
      kms: SodiumKeyManagementService
      pickupQueue: RedisPickupQueue
      directory: LiveSessionDirectory
      registry: RelayRegistry
      relay: RelayClient
      socketLifecycle: SocketLifecycle
      retentionSweeper: RetentionSweeper
      leaseSweeper: LeaseSweeper
      heldDeliveries: HeldDeliveries
      order: InboundOrder
      processor: JobProcessor
      presence: WorkerPresence
      pushNotifier?: PushNotifier
      pushSweepMs: number
    },
  ) {}

  public get invitation(): MediatorInvitation | undefined {
    return this.invitationValue
  }

  /** Port the operations server listens on (useful with OPS_PORT=0). */
  public get opsPort(): number | undefined {
    const address = this.ops?.server.address()
    return typeof address === 'object' && address ? address.port : undefined
  }

  public async start(): Promise<void> {
    const { config, logger, metrics, agent } = this
    const r = this.resources
    this.invitationValue = await ensureMediatorInvitation({ agent, pool: r.pool, label: config.MEDIATOR_LABEL, logger })
    await publishMediatorInvitation(r.redis, r.keys, this.invitationValue)

    this.consumer = new InboundConsumer({
      connection: r.bullRedis,
      keys: r.keys,
      concurrency: config.WORKER_CONCURRENCY,
      lockDurationMs: config.INBOUND_LOCK_DURATION_MS,
      stalledIntervalMs: config.INBOUND_STALLED_INTERVAL_MS,
      processor: r.processor,
      metrics,
      logger,
    })
    await this.consumer.start()
    r.socketLifecycle.startRelayReaper(15_000)
    r.retentionSweeper.start(60_000)
    r.leaseSweeper.start(Math.min(15_000, Math.max(250, Math.floor(config.PICKUP_LEASE_MS / 4))))
    r.heldDeliveries.start(Math.max(100, Math.floor(config.ORDER_HOLD_MS / 2)))
    r.pushNotifier?.start(agent.context, r.pushSweepMs)

    const inboundQueue = new Queue(INBOUND_QUEUE_NAME, { connection: r.redis, prefix: r.keys.bullPrefix })
    this.ops = buildOpsServer({
      host: config.OPS_HOST,
      port: config.OPS_PORT,
      metrics,
      invitation: () => this.invitationValue,
      ui: {
        queues: [inboundQueue],
        auth: {
          user: config.OPS_UI_USER,
          ...(config.OPS_UI_PASSWORD !== undefined ? { password: config.OPS_UI_PASSWORD } : {}),
          ...(config.OPS_UI_TOKEN !== undefined ? { token: config.OPS_UI_TOKEN } : {}),
        },
      },
      checkReady: async () => {
        if (!this.started || this.closing) throw new Error('not started or shutting down')
        await r.redis.ping()
        await r.pool.query('SELECT 1')
      },
      refreshGauges: async () => {
        const counts = await inboundQueue.getJobCounts('waiting', 'active', 'delayed', 'failed')
        for (const [state, count] of Object.entries(counts)) metrics.inboundQueueDepth.set({ state }, count)
        metrics.inboundOldestWaiting.set(await oldestWaitingSeconds(inboundQueue))
        const relays = await r.registry.listAlive()
        metrics.liveSessions.set(await r.directory.countLiveSockets(relays.map((a) => a.relayId)))
        metrics.orderOpen.set((await r.order.getStats()).open)
      },
    })
    this.ops.addHook('onClose', async () => inboundQueue.close())
    await this.ops.listen({ host: config.OPS_HOST, port: config.OPS_PORT })
    await r.presence.start(this.opsPort)
    this.started = true
    logger.info({ invitationUrl: this.invitationValue.url, opsPort: this.opsPort }, 'mediator worker started')
  }

  public async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    const r = this.resources
    this.logger.info('mediator worker shutting down: finishing jobs in progress')
    r.socketLifecycle.stopRelayReaper()
    r.retentionSweeper.stop()
    r.leaseSweeper.stop()
    r.heldDeliveries.stop()
    await this.consumer?.close()
    // Alive until its last job is done: a worker draining its jobs is still a worker.
    await r.presence.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'could not withdraw from the worker registry'))
    await r.pushNotifier?.close()
    await this.ops?.close()
    await this.agent.shutdown()
    r.relay.close()
    r.kms.close()
    r.redis.disconnect()
    r.bullRedis.disconnect()
    await r.pool.end()
    this.logger.info('mediator worker stopped')
  }
}

/** Connects to Postgres and Redis, opens the key store (checking the master key) and builds a worker. */
export async function buildMediatorWorker(config: MediatorConfig, logger: Logger): Promise<MediatorWorker> {
  const pushSettings = resolvePushSettings(config)
  const masterKey = decodeMasterKey(config.KMS_MASTER_KEY)
  if (!masterKey) throw new Error('KMS_MASTER_KEY must be exactly 32 bytes written as 64 hex digits or as base64')

  await ensureSchema(config.DATABASE_URL, config.DATABASE_SCHEMA)
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    options: `-c search_path=${config.DATABASE_SCHEMA}`,
    max: config.DATABASE_POOL_SIZE,
  })
  pool.on('error', (error) => logger.warn({ err: error }, 'idle Postgres connection failed'))

  const kms = await SodiumKeyManagementService.create({ pool, masterKey, logger })
  const storage = await PostgresStorageService.create({ pool, logger })
  await storage.provisionContext('default')

  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 })
  redis.on('error', (error) => logger.warn({ err: error }, 'Redis connection error'))
  // BullMQ's blocking reads need their own connection without a per-request retry limit.
  const bullRedis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null })
  bullRedis.on('error', (error) => logger.warn({ err: error }, 'Redis (queue) connection error'))

  const keys = new RedisKeys(config.REDIS_PREFIX)
  const metrics = new MediatorMetrics()
  const registry = new RelayRegistry(redis, keys)
  const directory = new LiveSessionDirectory({ redis, prefix: keys })
  const pickupQueue = new RedisPickupQueue({
    redis,
    prefix: keys,
    leaseMs: config.PICKUP_LEASE_MS,
    maxAgeMs: config.PICKUP_RETENTION_DAYS * 24 * 3600 * 1000,
    maxMessagesPerConnection: config.PICKUP_MAX_MESSAGES,
    orderHoldMs: config.ORDER_HOLD_MS,
    onHeld: () => metrics.orderHeld.inc(),
    onExpired: (count, connectionId) => {
      metrics.expiredMessages.inc(count)
      logger.warn({ connectionId, count }, 'queued messages expired before pickup')
    },
    logger,
  })
  const order = new InboundOrder({ redis, prefix: keys, holdMs: config.ORDER_HOLD_MS })
  const relay = new RelayClient({ registry, secret: config.INTERNAL_SECRET })
  const backgroundWrites = new BackgroundWrites()
  // FAST_FORWARD: forwards and live deliveries skip Credo's generic pipeline (docs/forward-path.md).
  const packer = config.FAST_FORWARD ? new FastDeliveryPacker(new EnvelopePacker(kms)) : undefined
  const jobScope = new JobScope()
  const liveDelivery = new LiveDelivery({ directory, queue: pickupQueue, relay, metrics, packer, jobScope })
  const sessionService = new ClusterPickupSessionService(directory, liveDelivery, backgroundWrites, config.WORKER_ID, logger)
  const pushStore = new PushDeviceStore()
  const pushNotifier = createPushNotifier({
    settings: pushSettings,
    redis,
    redisPrefix: config.REDIS_PREFIX,
    store: pushStore,
    metrics: new PushMetrics(metrics.registry),
    // A trailing notification only for a wallet that is still away with something to fetch.
    stillWaiting: async (agentContext, connectionId) =>
      !(await directory.lookup(connectionId)) && (await pickupQueue.getAvailableMessageCount(agentContext, { connectionId })) > 0,
    logger,
  })
  const deliveringQueue = new DeliveringQueue({
    queue: pickupQueue,
    liveDelivery,
    backgroundWrites,
    metrics,
    logger,
    jobScope,
    offlineListener: pushNotifier,
    // Bound late: HeldDeliveries needs the agent, which needs this queue; nothing is queued before both exist.
    deliverDue: (due, log): Promise<void> => heldDeliveries.deliverDue(due, log),
  })
  const createdDids = config.FAST_FORWARD ? new CreatedDidCache() : undefined

  const agent = createMediatorAgent({
    kms,
    storage,
    queue: deliveringQueue,
    endpoints: config.PUBLIC_ENDPOINTS,
    autoGrantMediation: config.MEDIATION_POLICY === 'open',
    logger: new PinoCredoLogger(logger.child({ component: 'credo' }), credoLogLevels[config.CREDO_LOG_LEVEL]),
    modules: {
      cluster: new ClusterModule(sessionService, createdDids),
      protocols: new MediatorProtocolsModule({
        policy: MediationPolicy.fromConfig(config),
        registry: metrics.registry,
        logger,
      }),
      push: new PushNotificationsModule({ store: pushStore, logger }),
    },
  })
  await agent.initialize()
  agent.events.on<DidCommMessageProcessedEvent>(DidCommEventTypes.DidCommMessageProcessed, (event) => {
    if (event.payload.message.type.endsWith('/routing/1.0/forward')) metrics.forwards.inc({ path: 'credo' })
  })

  const implicitPickup = config.IMPLICIT_PICKUP
    ? new ImplicitPickup({ redis, redisPrefix: config.REDIS_PREFIX, liveSessions: sessionService, backgroundWrites, logger })
    : undefined
  implicitPickup?.attach(agent)

  const socketLifecycle = new SocketLifecycle(directory, pickupQueue, registry, logger, createRelayProbe())
  const pickupFast = config.FAST_FORWARD
    ? createPickupFastPath({
        agent,
        kms,
        queue: deliveringQueue,
        relay,
        socketCloseHandler: socketLifecycle,
        liveSessions: sessionService,
        pickupUsers: implicitPickup,
        registry: metrics.registry,
        directory,
        connections: { query: new ConnectionByKeysQuery(pool) },
      })
    : undefined
  const forwardFast = config.FAST_FORWARD
    ? await startForwardFastPath({
        agent,
        kms,
        queue: deliveringQueue,
        backgroundWrites,
        redis,
        redisPrefix: config.REDIS_PREFIX,
        metrics,
        logger,
        invalidates: [...(createdDids ? [createdDids] : []), ...(pickupFast?.caches ?? [])],
      })
    : undefined
  const shortcut = config.FAST_FORWARD ? new ShortcutChain([forwardFast, pickupFast?.shortcut]) : undefined
  const heldDeliveries: HeldDeliveries = new HeldDeliveries(order, liveDelivery, agent.context, metrics, logger)
  const processor = new JobProcessor({
    agentContext: agent.context,
    relay,
    backgroundWrites,
    jobScope,
    socketCloseHandler: socketLifecycle,
    shortcut,
    heldDeliveries,
  })
  return new MediatorWorker(config, logger, metrics, agent, {
    pool,
    redis,
    bullRedis,
    keys,
    kms,
    pickupQueue,
    directory,
    registry,
    relay,
    socketLifecycle,
    retentionSweeper: new RetentionSweeper(pickupQueue, logger),
    leaseSweeper: new LeaseSweeper(pickupQueue, liveDelivery, agent.context, metrics, logger),
    heldDeliveries,
    order,
    processor,
    presence: new WorkerPresence(new WorkerRegistry(redis, keys), config.WORKER_ID, config.WORKER_CONCURRENCY, logger),
    pushNotifier,
    pushSweepMs: Math.max(100, Math.min(1_000, Math.floor(pushSettings.coalesceMs / 4))),
  })
}

async function ensureSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
  } finally {
    await client.end()
  }
}
