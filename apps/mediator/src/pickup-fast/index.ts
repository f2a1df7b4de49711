import type { AgentContext, Kms } from '@credo-ts/core'
import type { DidCommQueueTransportRepository } from '@credo-ts/didcomm'
import { Counter, type Registry } from 'prom-client'
import type { SocketCloseHandler } from '../inbound/job-processor.js'
import type { RelayClient } from '../relay/relay-client.js'
import { EnvelopePacker, PeerKeyCache, type InvalidationTarget } from '../forward/index.js'
import { ConnectionsByKeys, type ConnectionsByKeysOptions } from './connections-by-keys.js'
import { OurKeys, type OurKeysOptions } from './our-keys.js'
import type { LiveSessionStarter } from '../pickup/cluster-pickup-session-service.js'
import type { PickupUsers } from '../pickup/implicit-pickup.js'
import { PickupShortcut } from './pickup-shortcut.js'
import { SessionTrust, SocketSessions, type SessionTrustOptions } from './socket-sessions.js'
import type { LiveSessionDirectory } from '@mediator/redis'

export { CreatedDidCache, CachingDidCommDocumentService, registerCachingDocumentService, type CreatedDid, type CreatedDidCacheOptions } from './created-did-cache.js'
export { ConnectionsByKeys, type KeyedConnection, type ConnectionsByKeysOptions } from './connections-by-keys.js'
export { ConnectionByKeysQuery, CONNECTION_BY_KEYS_STATEMENT, type ConnectionByKeys, type ConnectionByKeysResult } from './connection-by-keys-query.js'
export { OurKeys, type OurKey, type OurKeysOptions } from './our-keys.js'
export { SessionTrust, SocketSessions, didDigest, type SessionTrustOptions, type SocketSession, type SocketSessionFound } from './socket-sessions.js'
export {
  PickupShortcut,
  StatusReplyUndeliverableError,
  type PickupShortcutDeps,
  type PickupSkipReason,
} from './pickup-shortcut.js'
export {
  readFastPickupRequest,
  readMessagesReceived,
  statusMessageJson,
  LIVE_DELIVERY_CHANGE_TYPES,
  MESSAGES_RECEIVED_TYPES,
  STATUS_TYPE,
  type FastPickupRequest,
  type LiveModeOn,
  type MessagesReceived,
} from './pickup-messages.js'
export { ShortcutChain } from './shortcut-chain.js'

export interface PickupFastPathOptions {
  /** The worker's agent, after `initialize()`. */
  agent: { context: AgentContext }
  kms: Pick<Kms.KeyManagementService, 'encrypt' | 'decrypt' | 'randomBytes'>
  /** The queue the agent was built with. */
  queue: Pick<DidCommQueueTransportRepository, 'removeMessages' | 'getAvailableMessageCount'>
  relay: Pick<RelayClient, 'send' | 'disconnect'>
  socketCloseHandler: SocketCloseHandler
  /** The worker's live sessions; without them live-delivery-change goes through Credo. */
  liveSessions?: LiveSessionStarter
  /** Implicit pickup's record of wallets that speak pickup, kept as Credo's path keeps it. */
  pickupUsers?: PickupUsers
  /** The worker's metrics registry: `mediator_pickup_fast_total` is added to it. */
  registry?: Registry
  /** Shared with the live delivery packer, so each wallet key is converted once per process. */
  peers?: PeerKeyCache
  ourKeys?: OurKeysOptions
  connections?: ConnectionsByKeysOptions
  /**
   * The live-session directory: a message on a live socket is then attributed to the connection the
   * socket went live for, without storage lookups (pickup-fast/socket-sessions.ts).
   */
  directory?: Pick<LiveSessionDirectory, 'sessionsOnSocket' | 'vouch'>
  sessionTrust?: SessionTrustOptions
}

/**
 * Builds the pickup fast path of a worker. Its caches must be kept honest by the forward fast path's
 * invalidation (`invalidates: [...fastPath.caches]` of startForwardFastPath).
 */
export function createPickupFastPath(options: PickupFastPathOptions): {
  shortcut: PickupShortcut
  caches: InvalidationTarget[]
} {
  const ctx = options.agent.context
  const ourKeys = new OurKeys(ctx, options.ourKeys)
  const connections = new ConnectionsByKeys(ctx, options.connections)
  const peers = options.peers ?? new PeerKeyCache()
  const trust = new SessionTrust(options.sessionTrust)
  const socketSessions = options.directory ? new SocketSessions(options.directory, trust) : undefined
  const counter = options.registry
    ? new Counter({
        name: 'mediator_pickup_fast_total',
        help: 'Pickup v2 messages-received and live-delivery-change handled by the fast path (the rest go through Credo), by how the connection was found (socket: the live session of the socket it came on; lookup: from the keys)',
        labelNames: ['message', 'attributed'],
        registers: [options.registry],
      })
    : undefined
  const shortcut = new PickupShortcut({
    agentContext: ctx,
    kms: options.kms,
    ourKeys,
    connections,
    socketSessions,
    peers,
    packer: new EnvelopePacker(options.kms, peers),
    queue: options.queue,
    relay: options.relay,
    socketCloseHandler: options.socketCloseHandler,
    liveSessions: options.liveSessions,
    pickupUsers: options.pickupUsers,
    onHandled: counter ? (kind, attributed) => counter.inc({ message: kind, attributed }) : undefined,
  })
  return { shortcut, caches: [ourKeys, connections, trust] }
}
