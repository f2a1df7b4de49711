import { DidKey, EventEmitter, RecordDuplicateError, TypedArrayEncoder, utils, type AgentContext } from '@credo-ts/core'
import {
  DidCommMediationDenyMessage,
  DidCommMediationGrantMessage,
  DidCommMediationRecord,
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
  DidCommMediatorService,
  DidCommModuleConfig,
  DidCommRoutingEventTypes,
  type DidCommConnectionRecord,
  type DidCommMediationStateChangedEvent,
} from '@credo-ts/didcomm'
import { retryOnConflict } from '@mediator/storage-postgres'
import type { Logger } from '@mediator/config'
import type { MediationPolicy } from './mediation-policy.js'
import type { ProtocolMetrics } from './protocol-metrics.js'

export type MediationAnswer = DidCommMediationGrantMessage | DidCommMediationDenyMessage

/**
 * Answers mediate-request by the mediation policy: a grant (endpoint = the first public endpoint, the
 * mediator's routing keys) or a deny, never silence. A connection has at most one mediation record:
 * its id is derived from the connection id, so two workers handling two requests of one wallet at the
 * same time cannot create two (Credo would then fail every later lookup by connection). A repeated
 * request is answered again: a granted wallet gets its grant again (it may have missed the first),
 * one that was denied is decided again (the allow list may have changed). A write that lost a race
 * with another worker is re-read and decided again, not failed.
 */
export class MediationCoordinator {
  public constructor(
    private readonly policy: MediationPolicy,
    private readonly metrics: ProtocolMetrics,
    private readonly logger: Logger,
  ) {}

  public async answerRequest(
    agentContext: AgentContext,
    connection: DidCommConnectionRecord,
    threadId: string,
  ): Promise<MediationAnswer> {
    const repository = agentContext.resolve(DidCommMediationRepository)
    const found = await this.findOrCreate(agentContext, repository, connection.id, threadId)
    // Requests of one wallet may race on several workers. The loser of the write re-reads and decides
    // again here instead of failing the job: a retried job could no longer answer on the wallet's held
    // HTTP request.
    return retryOnConflict(async (attempt) => {
      const record = attempt === 1 ? found : await repository.getById(agentContext, found.id)
      return this.decide(agentContext, repository, record, connection, threadId)
    })
  }

  private async decide(
    agentContext: AgentContext,
    repository: DidCommMediationRepository,
    record: DidCommMediationRecord,
    connection: DidCommConnectionRecord,
    threadId: string,
  ): Promise<MediationAnswer> {
    const log = this.logger.child({ connectionId: connection.id, mediationId: record.id, threadId })
    if (record.state === DidCommMediationState.Granted) {
      log.info('mediation requested again: granted already, sending the grant again')
      this.metrics.mediationRequests.inc({ outcome: 'granted' })
      return this.grantMessage(agentContext, threadId)
    }

    const decision = this.policy.decide(connection)
    const newState = decision.grant ? DidCommMediationState.Granted : DidCommMediationState.Denied
    const previousState = record.state
    record.state = newState
    record.threadId = threadId
    await repository.update(agentContext, record)
    agentContext.resolve(EventEmitter).emit<DidCommMediationStateChangedEvent>(agentContext, {
      type: DidCommRoutingEventTypes.MediationStateChanged,
      payload: { mediationRecord: record.clone(), previousState },
    })
    this.metrics.mediationRequests.inc({ outcome: decision.grant ? 'granted' : 'denied' })
    log.info({ theirLabel: connection.theirLabel, reason: decision.reason }, decision.grant ? 'mediation granted' : 'mediation denied')

    if (decision.grant) return this.grantMessage(agentContext, threadId)
    // Credo's deny message takes its id from the options and would otherwise have none.
    const deny = new DidCommMediationDenyMessage({ id: utils.uuid() })
    deny.setThread({ threadId })
    return deny
  }

  private async findOrCreate(
    agentContext: AgentContext,
    repository: DidCommMediationRepository,
    connectionId: string,
    threadId: string,
  ): Promise<DidCommMediationRecord> {
    // Records written by Credo itself have random ids: look them up by connection first.
    const existing = await repository.findByQuery(agentContext, { connectionId, role: DidCommMediationRole.Mediator })
    if (existing[0]) return existing[0]
    const record = new DidCommMediationRecord({
      id: `mediation-${connectionId}`,
      connectionId,
      role: DidCommMediationRole.Mediator,
      state: DidCommMediationState.Requested,
      threadId,
    })
    try {
      await repository.save(agentContext, record)
      return record
    } catch (error) {
      if (error instanceof RecordDuplicateError) return repository.getById(agentContext, record.id)
      throw error
    }
  }

  private async grantMessage(agentContext: AgentContext, threadId: string): Promise<DidCommMediationGrantMessage> {
    const didcommConfig = agentContext.resolve(DidCommModuleConfig)
    const routing = await agentContext.resolve(DidCommMediatorService).findMediatorRoutingRecord(agentContext)
    if (!routing) throw new Error('the mediator routing record is missing (the agent was not initialised)')
    const endpoint = didcommConfig.endpoints[0]
    if (!endpoint) throw new Error('the mediator has no public endpoint to grant mediation with')
    return new DidCommMediationGrantMessage({
      endpoint,
      routingKeys: routing.routingKeysWithKeyId.map((key) =>
        didcommConfig.useDidKeyInProtocols ? new DidKey(key).did : TypedArrayEncoder.toBase58(key.publicKey.publicKey),
      ),
      threadId,
    })
  }
}
