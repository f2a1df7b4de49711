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
import { toLiveSessionKeys } from './live-session-keys.js'

type SaveOptions = Parameters<DidCommMessagePickupSessionService['saveLiveSession']>[1]
type RemoveOptions = Parameters<DidCommMessagePickupSessionService['removeLiveSession']>[1]

/**
 * Credo's live pickup sessions, kept in the cluster-wide directory in Redis instead of one process's
 * memory. Credo calls this when a wallet turns live mode on or off (pickup v2 live-delivery-change).
 *
 * Credo's own lookups (`getLiveSession*`) answer "none": Credo's in-process live delivery would only
 * find sessions of this process. Delivery to live sessions is done by LiveDelivery, from any worker,
 * through the relay that holds the socket.
 */
export class ClusterPickupSessionService extends DidCommMessagePickupSessionService {
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
    const write = (async () => {
      const outcome = await this.directory.register(options.connectionId, {
        relayId: transportSession.relayId,
        socketId: transportSession.socketId,
        transport: 'ws',
        registeredAt: transportSession.receivedAt,
        registeredBy: this.workerId,
        keys,
      })
      log.info({ outcome, relayId: transportSession.relayId, socketId: transportSession.socketId }, 'live session saved')
      // A new socket: what earlier sockets got without a confirmation may never have reached the wallet.
      if (outcome === 'registered' || outcome === 'replaced') {
        await this.liveDelivery.releaseUnconfirmed(options.connectionId)
      }
      // Anything queued before the entry existed was not pushed by whoever queued it: push it now.
      if (outcome !== 'stale' && outcome !== 'socket-closed') {
        await this.liveDelivery.deliverQueued(agentContext, options.connectionId, log)
      }
    })()
    this.backgroundWrites.track(write, (error) => log.error({ err: error }, 'saving live session failed'))
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
