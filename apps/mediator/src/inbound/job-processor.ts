import type { AgentContext } from '@credo-ts/core'
import { DidCommMessageReceiver, DidCommTransportService, MessageSendingError } from '@credo-ts/didcomm'
import type { InboundMessageJob, SocketClosedJob } from '@mediator/contracts'
import type { Logger } from '@mediator/config'
import type { RelayClient } from '../relay/relay-client.js'
import { RelayTransportSession } from '../relay/relay-transport-session.js'
import type { BackgroundWrites } from '../pickup/background-writes.js'
import type { HeldDeliveries } from '../pickup/held-deliveries.js'
import type { JobScope } from './job-scope.js'

/** true: handled; 'answered': handled, and its reply answered a held request; false: Credo's. */
export type ShortcutResult = boolean | 'answered'

/** Something that may take a message off Credo's generic path (the forward and pickup fast paths). */
export interface InboundShortcut {
  /** Returns true when it handled the message completely; false to let Credo process it. */
  tryHandle(job: InboundMessageJob, envelope: Record<string, unknown>, log: Logger): Promise<ShortcutResult>
}

/** What must happen when a wallet's socket closes (drop live sessions, release unconfirmed messages). */
export interface SocketCloseHandler {
  socketClosed(relayId: string, socketId: string, log: Logger): Promise<void>
}

/** A message that can never be processed, whatever the retries: it goes to the dead letters at once. */
export class PoisonMessageError extends Error {
  public constructor(message: string) {
    super(message)
    this.name = 'PoisonMessageError'
  }
}

export interface JobProcessorDeps {
  agentContext: AgentContext
  relay: RelayClient
  backgroundWrites: BackgroundWrites
  /** Gives queue adds their idempotency keys; share it with the DeliveringQueue. */
  jobScope?: JobScope
  socketCloseHandler: SocketCloseHandler
  shortcut?: InboundShortcut
  /** Told when a message that later deliveries wait for is processed. */
  heldDeliveries?: Pick<HeldDeliveries, 'finish'>
}

/**
 * Processes one inbound job: hands a message to Credo through a transport session that answers via the
 * relay holding the socket, and reacts to socket events. Errors propagate to the queue consumer, which
 * decides between retry and dead letter.
 */
export class JobProcessor {
  private readonly receiver: DidCommMessageReceiver
  private readonly transportService: DidCommTransportService

  public constructor(private readonly deps: JobProcessorDeps) {
    this.receiver = deps.agentContext.dependencyManager.resolve(DidCommMessageReceiver)
    this.transportService = deps.agentContext.dependencyManager.resolve(DidCommTransportService)
  }

  public async processMessage(job: InboundMessageJob, log: Logger): Promise<void> {
    const run = this.deps.jobScope?.begin(job.messageId, job.order)
    try {
      await (run ? run.within(() => this.processInScope(job, log)) : this.processInScope(job, log))
    } finally {
      // Also after a failure: a retry is ordered by the job's place among queued messages, but later
      // live deliveries do not wait for it (docs/guarantees.md).
      const { settled } = run?.end() ?? { settled: false }
      if (job.order?.barrier && !settled) await this.deps.heldDeliveries?.finish(job.messageId, log)
    }
  }

  private async processInScope(job: InboundMessageJob, log: Logger): Promise<void> {
    let envelope: unknown
    try {
      envelope = JSON.parse(job.payload)
    } catch {
      await this.answerNoReply(job, log)
      throw new PoisonMessageError('payload is not JSON')
    }
    if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) {
      await this.answerNoReply(job, log)
      throw new PoisonMessageError('payload is not a JSON object')
    }

    const handled = this.deps.shortcut ? await this.deps.shortcut.tryHandle(job, envelope as Record<string, unknown>, log) : false
    if (handled) {
      if (handled !== 'answered') await this.answerNoReply(job, log)
      return
    }

    const session = new RelayTransportSession(
      job.messageId,
      job.relayId,
      job.socketId,
      job.transport,
      this.deps.relay,
      job.receivedAt,
    )
    try {
      await this.deps.backgroundWrites.run(() =>
        this.receiver.receiveMessage(envelope, { session, receivedAt: new Date(job.receivedAt) }),
      )
    } catch (error) {
      if (!isAnswerToAbsentWallet(error, session)) throw error
      // The wallet left before its answer could be written (socket closed, held request timed out)
      // and Credo could not queue the answer (pickup answers never are). The message itself was
      // processed and the wallet asks again when it is back: churn, not poison, so no dead letter.
      log.info({ err: (error as Error).message }, 'answer dropped: the wallet is no longer connected')
    } finally {
      // The session lives as long as this job: later messages for the wallet go through the live
      // session directory, not through this process's memory.
      this.transportService.removeSession(session)
      if (job.replyExpected && !session.answered) await this.answerNoReply(job, log)
      if (session.gone) await this.deps.socketCloseHandler.socketClosed(job.relayId, job.socketId, log)
    }
  }

  public async processSocketClosed(job: SocketClosedJob, log: Logger): Promise<void> {
    await this.deps.socketCloseHandler.socketClosed(job.relayId, job.socketId, log)
  }

  /** A held HTTP request gets "no reply" (202) at once instead of waiting for the relay's timeout. */
  private async answerNoReply(job: InboundMessageJob, log: Logger): Promise<void> {
    if (!job.replyExpected) return
    const result = await this.deps.relay.disconnect(job.relayId, job.socketId)
    if (result.outcome === 'failed') log.warn({ reason: result.reason }, 'could not answer held request')
  }
}

/** Whether `error` is Credo giving up on an answer to the wallet whose socket the relay reported gone. */
function isAnswerToAbsentWallet(error: unknown, session: RelayTransportSession): boolean {
  return (
    error instanceof MessageSendingError &&
    session.gone &&
    session.connectionId !== undefined &&
    error.outboundMessageContext.connection?.id === session.connectionId
  )
}
