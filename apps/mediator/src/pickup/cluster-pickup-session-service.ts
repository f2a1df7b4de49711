import type { AgentContext } from '@credo-ts/core'
import {
  DidCommMessagePickupSessionRole,
  DidCommMessagePickupSessionService,
  DidCommTransportService,
  type DidCommMessagePickupSession,
} from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import type { LiveSessionDirectory } from '@mediator/redis'
import { RelayTransportSession } from '../relay/relay-transport-session.js'
import type { BackgroundWrites } from './background-writes.js'
import type { LiveDelivery } from './live-delivery.js'
import { toLiveSessionKeys, type LiveSessionKeys } from './live-session-keys.js'

type SaveOptions = Parameters<DidCommMessagePickupSessionService['saveLiveSession']>[1]
type RemoveOptions = Parameters<DidCommMessagePickupSessionService['removeLiveSession']>[1]

/** The WebSocket a live session is kept on, and when the relay read the message that asked for it. */
export interface LiveSocket {
  relayId: string
  socketId: string
  /** Orders registrations of one wallet's sockets (the directory keeps the newest). */
  receivedAt: number
}

/** Starts a wallet's live session on a socket (what saveLiveSession does, without a Credo session). */
export interface LiveSessionStarter {
  startLiveSession(agentContext: AgentContext, connectionId: string, socket: LiveSocket, keys: LiveSessionKeys, log: Logger): Promise<void>
}

/**
 * Credo's live pickup sessions, kept in the cluster-wide directory in Redis instead of one process's
 * memory. Credo calls this when a wallet turns live mode on or off (pickup v2 live-delivery-change).
 *
 * Credo's own lookups (`getLiveSession*`) answer "none": Credo's in-process live delivery would only
 * find sessions of this process. Delivery to live sessions is done by LiveDelivery, from any worker,
 * through the relay that holds the socket.
 */
export class ClusterPickupSessionService extends DidCommMessagePickupSessionService implements LiveSessionStarter {
  public constructor(
    private readonly directory: LiveSessionDirectory,
    private readonly liveDelivery: LiveDelivery,
    private readonly backgroundWrites: BackgroundWrites,
    private readonly workerId: string,
    private readonly logger: Logger,
  ) {
    super()
  }

  public override start(_agentContext: AgentContext): void {
    // Credo drops a live session when its transport session is removed. Ours last one job each, so
    // that would end every live session at once; socket-closed events end them instead.
  }

  public override getLiveSession(_agentContext: AgentContext, _sessionId: string): DidCommMessagePickupSession | undefined {
    return undefined
  }

  public override getLiveSessionByConnectionId(
    _agentContext: AgentContext,
    _options: { connectionId: string; role?: DidCommMessagePickupSessionRole },
  ): DidCommMessagePickupSession | undefined {
    return undefined
  }

  public override saveLiveSession(agentContext: AgentContext, options: SaveOptions): void {
    if (options.role !== DidCommMessagePickupSessionRole.MessageHolder) return
    const transportSession = agentContext.dependencyManager
      .resolve(DidCommTransportService)
      .findSessionById(options.transportSessionId)
    const log = this.logger.child({ connectionId: options.connectionId })
    if (!(transportSession instanceof RelayTransportSession) || transportSession.transport !== 'ws') {
      log.info('live mode requested over a transport that cannot push (HTTP); ignored')
      return
    }
    const keys = transportSession.keys ? toLiveSessionKeys(transportSession.keys) : undefined
    if (!keys) {
      log.warn('live mode requested without return-route keys; ignored')
      return
    }
    const socket = { relayId: transportSession.relayId, socketId: transportSession.socketId, receivedAt: transportSession.receivedAt }
    this.backgroundWrites.track(this.startLiveSession(agentContext, options.connectionId, socket, keys, log), (error) =>
      log.error({ err: error }, 'saving live session failed'),
    )
  }

  /**
   * Registers a wallet's socket as its live session and pushes what waits for it: what Credo's
   * saveLiveSession does here, also called where there is no Credo transport session (the pickup fast
   * path) or no pickup protocol (implicit pickup).
   */
  public async startLiveSession(
    agentContext: AgentContext,
    connectionId: string,
    socket: LiveSocket,
    keys: LiveSessionKeys,
    log: Logger,
  ): Promise<void> {
    const outcome = await this.directory.register(connectionId, {
      relayId: socket.relayId,
      socketId: socket.socketId,
      transport: 'ws',
      registeredAt: socket.receivedAt,
      registeredBy: this.workerId,
      keys,
    })
    log.info({ outcome, relayId: socket.relayId, socketId: socket.socketId, delivery: keys.delivery ?? 'pickup-v2' }, 'live session saved')
    // A new socket: what earlier sockets got without a confirmation may never have reached the wallet.
    if (outcome === 'registered' || outcome === 'replaced') {
      await this.liveDelivery.releaseUnconfirmed(connectionId)
    }
    // Anything queued before the entry existed was not pushed by whoever queued it: push it now.
    if (outcome !== 'stale' && outcome !== 'socket-closed') {
      await this.liveDelivery.deliverQueued(agentContext, connectionId, log)
    }
  }

  public override removeLiveSession(agentContext: AgentContext, options: RemoveOptions): void {
    void agentContext
    const log = this.logger.child({ connectionId: options.connectionId })
    const write = (async () => {
      const entry = await this.directory.lookup(options.connectionId)
      if (entry) await this.directory.unregister(options.connectionId, entry.socketId, entry.relayId)
      log.info('live session removed')
    })()
    this.backgroundWrites.track(write, (error) => log.error({ err: error }, 'removing live session failed'))
  }
}
