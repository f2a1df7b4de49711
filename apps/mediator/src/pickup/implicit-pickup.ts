import type { AgentContext } from '@credo-ts/core'
import {
  DidCommEventTypes,
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
  DidCommTransportEventTypes,
  type DidCommMessageProcessedEvent,
  type DidCommTransportSessionSavedEvent,
} from '@credo-ts/didcomm'
import type { Redis } from 'ioredis'
import type { Logger } from '@mediator/config'
import type { MediatorAgent } from '../agent/mediator-agent.js'
import { BoundedMap } from '../cache/bounded-map.js'
import { RelayTransportSession } from '../relay/relay-transport-session.js'
import type { BackgroundWrites } from './background-writes.js'
import type { LiveSessionStarter } from './cluster-pickup-session-service.js'
import { toLiveSessionKeys } from './live-session-keys.js'

/** How long a connection counts as a pickup-protocol user after its last pickup message. */
const PICKUP_USER_TTL_SECONDS = 30 * 24 * 3600

export interface ImplicitPickupOptions {
  redis: Redis
  redisPrefix: string
  liveSessions: LiveSessionStarter
  backgroundWrites: BackgroundWrites
  logger: Logger
}

/** Marks a connection as one that speaks pickup, so that it is never switched to implicit delivery. */
export interface PickupUsers {
  markPickupUser(connectionId: string): void
}

/**
 * Implicit pickup, as older Aries wallets (AFJ's `Implicit` strategy) and ACA-Py-style clients do it:
 * the wallet keeps a WebSocket open and sends any authcrypted message on it with
 * `~transport.return_route: all` (usually a trust ping), and expects whatever waits, and whatever comes
 * later, on that socket, with no pickup protocol. Such a message from a mediated connection registers
 * the socket in the live-session directory in implicit mode (see deliverImplicitly), and what is
 * queued is delivered at once.
 *
 * A wallet that speaks pickup (1.0 or 2.0) is never switched to implicit delivery: every pickup
 * message marks its connection in Redis, and a marked connection's return-route messages (a keylist
 * update, a trust ping on a pickup v2 socket) leave its session as it is. Pickup messages themselves
 * never register an implicit session.
 */
export class ImplicitPickup implements PickupUsers {
  /** Connections this process marked recently, so a polling wallet costs one Redis write an hour. */
  private readonly markedHere = new BoundedMap<string, number>(10_000)

  public constructor(private readonly options: ImplicitPickupOptions) {}

  public attach(agent: MediatorAgent): void {
    agent.events.on<DidCommTransportSessionSavedEvent>(DidCommTransportEventTypes.DidCommTransportSessionSaved, (event) => {
      this.sessionSaved(agent.context, event.payload.session)
    })
    agent.events.on<DidCommMessageProcessedEvent>(DidCommEventTypes.DidCommMessageProcessed, (event) => {
      const connectionId = event.payload.connection?.id
      if (connectionId && isPickupMessage(event.payload.message.type)) this.markPickupUser(connectionId)
    })
  }

  private pickupUserKey(connectionId: string): string {
    return `${this.options.redisPrefix}:implicit:pickup-user:${connectionId}`
  }

  /** Also called by the pickup fast path, for the pickup messages Credo does not see. */
  public markPickupUser(connectionId: string): void {
    const now = Date.now()
    if ((this.markedHere.get(connectionId) ?? 0) > now - 3_600_000) return
    this.markedHere.set(connectionId, now)
    const log = this.options.logger.child({ connectionId })
    const write = this.options.redis.set(this.pickupUserKey(connectionId), '1', 'EX', PICKUP_USER_TTL_SECONDS)
    this.options.backgroundWrites.track(write, (error) => log.warn({ err: error }, 'marking a pickup wallet failed'))
  }

  private sessionSaved(agentContext: AgentContext, session: DidCommTransportSessionSavedEvent['payload']['session']): void {
    if (!(session instanceof RelayTransportSession) || session.transport !== 'ws') return
    const connectionId = session.connectionId
    const message = session.inboundMessage
    if (!connectionId || !message || message.transport?.returnRoute !== 'all' || isPickupMessage(message.type)) return
    const keys = session.keys ? toLiveSessionKeys(session.keys) : undefined
    if (!keys) return
    const log = this.options.logger.child({ connectionId, relayId: session.relayId, socketId: session.socketId })
    const write = (async () => {
      if (await this.options.redis.exists(this.pickupUserKey(connectionId))) return
      if (!(await isMediated(agentContext, connectionId))) return
      const socket = { relayId: session.relayId, socketId: session.socketId, receivedAt: session.receivedAt }
      await this.options.liveSessions.startLiveSession(agentContext, connectionId, socket, { ...keys, delivery: 'implicit' }, log)
    })()
    this.options.backgroundWrites.track(write, (error) => log.error({ err: error }, 'implicit pickup registration failed'))
  }
}

function isPickupMessage(type: string): boolean {
  return type.includes('/messagepickup/')
}

async function isMediated(agentContext: AgentContext, connectionId: string): Promise<boolean> {
  const records = await agentContext
    .resolve(DidCommMediationRepository)
    .findByQuery(agentContext, { connectionId, role: DidCommMediationRole.Mediator })
  return records.some((r) => r.state === DidCommMediationState.Granted)
}
