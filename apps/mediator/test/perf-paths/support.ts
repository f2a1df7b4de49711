import { randomUUID } from 'node:crypto'
import {
  getPublicJwkFromVerificationMethod,
  Kms,
  TypedArrayEncoder,
  type AgentContext,
  type Module,
} from '@credo-ts/core'
import {
  DidCommDocumentService,
  DidCommMessageReceiver,
  DidCommTransportService,
  type DidCommEncryptedMessage,
  type DidCommOutboundPackage,
  type DidCommOutboundTransport,
  type DidCommTransportSession,
} from '@credo-ts/didcomm'
import { Redis } from 'ioredis'
import pino from 'pino'
import { RedisKeys, type InboundMessageJob } from '@mediator/contracts'
import { createCredoAgent, peerAgentDidcommOptions } from '@mediator/credo-runtime'
import { LiveSessionDirectory, RedisPickupQueue, RelayRegistry } from '@mediator/redis'
import { createTestRedisPrefix, testRedisUrl } from '@mediator/test-support'
import { createMediatorAgent } from '../../src/agent/mediator-agent.js'
import { EnvelopePacker, ForwardInvalidation, ForwardRecipients, RoutingKeys, type InvalidationTarget } from '../../src/forward/index.js'
import { RelayClient } from '../../src/relay/relay-client.js'
import { ClusterModule } from '../../src/agent/cluster-module.js'
import { BackgroundWrites } from '../../src/pickup/background-writes.js'
import { ClusterPickupSessionService } from '../../src/pickup/cluster-pickup-session-service.js'
import { LiveDelivery } from '../../src/pickup/live-delivery.js'
import { MediatorMetrics } from '../../src/metrics.js'
import { createPickupFastPath, type PickupFastPathOptions } from '../../src/pickup-fast/index.js'
import { agentPlatform } from '../support/agent-platform.js'
import { RecordingRelay } from '../support/recording-relay.js'

export const silentLogger = pino({ level: 'silent' })

/**
 * Carries a wallet's outbound messages straight into the mediator agent's receiver, with a transport
 * session that hands the mediator's return-route answers back to the wallet's receiver: a real DID
 * exchange between two Credo agents in one process, without sockets.
 */
class InProcessTransport implements DidCommOutboundTransport {
  public readonly supportedSchemes = ['http', 'https']
  private walletContext?: AgentContext

  public constructor(private readonly mediatorContext: () => AgentContext) {}

  public async start(agentContext: AgentContext): Promise<void> {
    this.walletContext = agentContext
  }

  public async stop(): Promise<void> {}

  public async sendMessage(outboundPackage: DidCommOutboundPackage): Promise<void> {
    const mediator = this.mediatorContext()
    const replies: DidCommEncryptedMessage[] = []
    const session: DidCommTransportSession = {
      id: randomUUID(),
      type: `inproc:${randomUUID()}`,
      send: async (_ctx, message) => void replies.push(message),
      close: async () => {},
    }
    try {
      await mediator.resolve(DidCommMessageReceiver).receiveMessage(outboundPackage.payload, { session })
    } finally {
      mediator.resolve(DidCommTransportService).removeSession(session)
    }
    const wallet = this.walletContext
    if (!wallet) throw new Error('transport not started')
    for (const reply of replies) await wallet.resolve(DidCommMessageReceiver).receiveMessage(reply)
  }
}

/**
 * A mediator agent as the worker builds it (our KMS, Postgres storage, the Redis pickup queue) and a
 * stock Credo wallet connected to it by a real DID exchange (did:peer:4 on the mediator's side), plus
 * a recording relay. `mediatorModules` are registered after DIDComm, as the worker's are.
 */
/** What a mediator module may need from the mediator's side (they exist before its agent does). */
export interface PairedInfrastructure {
  redis: Redis
  keys: RedisKeys
  queue: RedisPickupQueue
  relayClient: RelayClient
}

export async function startPairedAgents(
  label: string,
  mediatorModules: Record<string, Module> | ((infra: PairedInfrastructure) => Record<string, Module>) = {},
) {
  const m = await agentPlatform(`${label}_m`)
  const w = await agentPlatform(`${label}_w`)
  const prefix = await createTestRedisPrefix(label)
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 })
  const keys = new RedisKeys(prefix.prefix)
  const queue = new RedisPickupQueue({ redis, prefix: keys })
  const relay = await RecordingRelay.start(redis, keys)
  const relayClient = new RelayClient({ registry: new RelayRegistry(redis, keys), secret: 'test-secret-test-secret' })
  const modules = typeof mediatorModules === 'function' ? mediatorModules({ redis, keys, queue, relayClient }) : mediatorModules
  const mediator = createMediatorAgent({
    kms: m.kms,
    storage: m.storage,
    queue,
    endpoints: ['http://mediator.invalid'],
    autoGrantMediation: true,
    modules,
  })
  await mediator.initialize()
  const wallet = createCredoAgent({
    kms: w.kms,
    storage: w.storage,
    didcomm: {
      ...peerAgentDidcommOptions,
      transports: { inbound: [], outbound: [new InProcessTransport(() => mediator.context)] },
    },
  })
  await wallet.initialize()

  const { outOfBandInvitation } = await mediator.didcomm.oob.createInvitation({ multiUseInvitation: true })
  const { connectionRecord } = await wallet.didcomm.oob.receiveInvitation(outOfBandInvitation, { label: `${label}-wallet` })
  if (!connectionRecord) throw new Error('no connection')
  const walletConnection = await wallet.didcomm.connections.returnWhenIsConnected(connectionRecord.id, { timeoutMs: 20_000 })
  const [mediatorConnection] = await mediator.didcomm.connections.findAllByQuery({ theirDid: walletConnection.did })
  if (!mediatorConnection || !walletConnection.did || !walletConnection.theirDid) throw new Error('connection not on both sides')

  // The keys the wallet authcrypts its pickup messages with, found as the benchmark's wallets find them.
  const { didDocument, keys: didKeys } = await wallet.dids.resolveCreatedDidDocumentWithKeys(walletConnection.did)
  const entry = didDocument.authentication?.[0]
  if (!entry) throw new Error('wallet DID without authentication key')
  const method = typeof entry === 'string' ? didDocument.dereferenceVerificationMethod(entry) : entry
  const walletJwk = getPublicJwkFromVerificationMethod(method)
  if (!walletJwk.is(Kms.Ed25519PublicJwk)) throw new Error('wallet key is not Ed25519')
  walletJwk.keyId = didKeys?.find((k) => method.id.endsWith(k.didDocumentRelativeKeyId))?.kmsKeyId ?? walletJwk.legacyKeyId
  const [service] = await wallet.context
    .resolve(DidCommDocumentService)
    .resolveServicesFromDid(wallet.context, walletConnection.theirDid)
  const mediatorJwk = service?.recipientKeys[0]
  if (!mediatorJwk) throw new Error('no mediator key')

  return {
    mediator,
    wallet,
    queue,
    redis,
    redisPrefix: prefix.prefix,
    relay,
    relayClient,
    mediatorKms: m.kms,
    walletKms: w.kms,
    /** The mediator's record of the connection with the wallet. */
    connectionId: mediatorConnection.id,
    walletJwk,
    walletKey: TypedArrayEncoder.toBase58(walletJwk.publicKey.publicKey),
    mediatorJwk,
    mediatorKey: TypedArrayEncoder.toBase58(mediatorJwk.publicKey.publicKey),
    async close() {
      relayClient.close()
      await relay.close()
      await wallet.shutdown()
      await mediator.shutdown()
      m.kms.close()
      w.kms.close()
      redis.disconnect()
      await prefix.cleanup()
      await m.db.drop()
      await w.db.drop()
    },
  }
}

export type PairedAgents = Awaited<ReturnType<typeof startPairedAgents>>

/** The fast paths' cache invalidation for the paired mediator, started, keeping `targets` honest. */
export async function startInvalidation(p: PairedAgents, targets: readonly InvalidationTarget[]): Promise<ForwardInvalidation> {
  const invalidation = new ForwardInvalidation({
    events: p.mediator.events,
    redis: p.redis,
    redisPrefix: p.redisPrefix,
    recipients: new ForwardRecipients(p.mediator.context),
    routingKeys: new RoutingKeys(p.mediator.context),
    logger: silentLogger,
    targets,
  })
  await invalidation.start()
  return invalidation
}

/** An inbound job as the relay enqueues it, from a new socket (or held HTTP request) of the paired relay. */
export function inboundJob(p: PairedAgents, payload: string, transport: 'ws' | 'http' = 'ws', replyExpected = transport === 'http'): InboundMessageJob {
  return {
    v: 1,
    kind: 'message',
    relayId: p.relay.relayId,
    socketId: randomUUID(),
    transport,
    messageId: randomUUID(),
    receivedAt: Date.now(),
    payload,
    replyExpected,
    headers: {},
  }
}

/** Any plaintext, authcrypted from the wallet's connection key (for shapes Credo's classes would not write). */
export function walletPacked(p: PairedAgents, plaintext: unknown): Promise<DidCommEncryptedMessage> {
  return new EnvelopePacker(p.walletKms).pack(p.wallet.context, plaintext, {
    recipientKeys: [p.mediatorKey],
    sender: { publicKey: p.walletKey, keyId: p.walletJwk.keyId },
  })
}

/** Every socket of the paired relay answers `status` for the duration of `fn`, as a relay does for a closed or busy one. */
export async function withRelayStatus<T>(p: PairedAgents, status: number, fn: () => Promise<T>): Promise<T> {
  const original = p.relay.statusFor
  const fixed = new Proxy(original, { get: (t, k) => (k === 'get' ? () => status : Reflect.get(t, k, t)) })
  Object.defineProperty(p.relay, 'statusFor', { value: fixed, configurable: true })
  try {
    return await fn()
  } finally {
    Object.defineProperty(p.relay, 'statusFor', { value: original, configurable: true })
  }
}

/**
 * Paired agents whose mediator keeps live sessions in the cluster's directory, as a worker does. One
 * BackgroundWrites for the session service and the job processors, as in the worker: a job waits for
 * the session's writes.
 */
export async function startPairedAgentsWithLiveSessions(label: string) {
  let live: { directory: LiveSessionDirectory; sessions: ClusterPickupSessionService } | undefined
  const writes = new BackgroundWrites()
  const p = await startPairedAgents(label, ({ redis, keys, queue, relayClient }) => {
    const directory = new LiveSessionDirectory({ redis, prefix: keys })
    const liveDelivery = new LiveDelivery({ directory, queue, relay: relayClient, metrics: new MediatorMetrics() })
    live = { directory, sessions: new ClusterPickupSessionService(directory, liveDelivery, writes, 'worker-under-test', silentLogger) }
    return { cluster: new ClusterModule(live.sessions) }
  })
  if (!live) throw new Error('session service not built')
  return { p, writes, ...live }
}

/** The pickup fast path of a worker on the paired mediator (its agent, KMS, queue and relay client). */
export function pickupFastPathOf(p: PairedAgents, options: Omit<PickupFastPathOptions, 'agent' | 'kms' | 'queue' | 'relay'>) {
  return createPickupFastPath({ agent: p.mediator, kms: p.mediatorKms, queue: p.queue, relay: p.relayClient, ...options })
}

/** Three messages queued for the wallet and delivered (in flight, unconfirmed); their ids. */
export async function deliverThree(p: PairedAgents): Promise<string[]> {
  const ctx = p.mediator.context
  await p.queue.deleteConnection(p.connectionId)
  for (let i = 0; i < 3; i++) {
    await p.queue.addMessage(ctx, { connectionId: p.connectionId, recipientDids: [], payload: { protected: 'e30', iv: `iv${i}`, ciphertext: 'c', tag: 't' } })
  }
  return (await p.queue.takeFromQueue(ctx, { connectionId: p.connectionId, limit: 3 })).map((m) => m.id)
}
