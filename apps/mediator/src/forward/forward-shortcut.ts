import type { AgentContext, Kms } from '@credo-ts/core'
import type { AddMessageOptions, DidCommEncryptedMessage } from '@credo-ts/didcomm'
import type { InboundMessageJob } from '@mediator/contracts'
import type { Logger } from '@mediator/config'
import type { InboundShortcut } from '../inbound/job-processor.js'
import type { BackgroundWrites } from '../pickup/background-writes.js'
import { ENVELOPE_ENC, isEnvelope, readProtectedHeader } from './envelope.js'
import { isDecryptionFailure, openEnvelopeBody } from './envelope-crypto.js'
import { readForward } from './forward-message.js'
import type { ForwardRecipients } from './forward-recipients.js'
import type { RoutingKeys } from './routing-keys.js'

/** Why a message was left to Credo (a metric label, and a debug log field). */
export type ForwardSkipReason =
  | 'not-envelope'
  | 'not-anoncrypt'
  | 'not-routing-key'
  | 'not-decryptable'
  | 'not-forward'
  | 'unknown-recipient'

/**
 * The queue Credo itself queues forwards on (the DeliveringQueue: queue, then live delivery). A
 * forward is its job's only add, so the add settles the job's place in the order (`settlesOrder`).
 */
export interface ForwardQueue {
  addMessage(agentContext: AgentContext, options: AddMessageOptions & { settlesOrder?: boolean }): Promise<string>
}

export interface ForwardShortcutDeps {
  agentContext: AgentContext
  /** Our KMS backend, called directly (the routing key's private half never leaves it). */
  kms: Pick<Kms.KeyManagementService, 'decrypt'>
  routingKeys: RoutingKeys
  recipients: ForwardRecipients
  queue: ForwardQueue
  backgroundWrites: BackgroundWrites
  onForwarded?: () => void
  onSkipped?: (reason: ForwardSkipReason) => void
}

/**
 * The forward fast path. A forward to one of our routing keys is decrypted with the KMS directly,
 * its recipient key resolved through a cache (see ForwardRecipients) and its inner message queued
 * with the same `addMessage` call Credo's QueueOnly strategy makes. About a dozen Credo storage
 * lookups, base58 and pure-JS key conversions, zod and class-transformer passes disappear.
 *
 * It only ever accepts. Whatever it is not sure of (another kind of envelope, another key, a
 * forward in an unusual shape, a recipient key it cannot resolve, a box that does not open) is
 * handed back (false) before anything was written, and Credo processes the message as if this did
 * not exist: Credo's answer, success or failure, stays the reference.
 */
export class ForwardShortcut implements InboundShortcut {
  public constructor(private readonly deps: ForwardShortcutDeps) {}

  public async tryHandle(job: InboundMessageJob, envelope: Record<string, unknown>, log: Logger): Promise<boolean> {
    const skip = (reason: ForwardSkipReason) => {
      this.deps.onSkipped?.(reason)
      log.debug({ reason }, 'forward fast path: left to Credo')
      return false
    }
    if (!isEnvelope(envelope)) return skip('not-envelope')
    const header = readProtectedHeader(envelope)
    if (!header || header.alg !== 'Anoncrypt' || header.enc !== ENVELOPE_ENC) return skip('not-anoncrypt')
    const recipient = header.recipients.length === 1 ? header.recipients[0] : undefined
    // A sender or iv in an anoncrypt entry is legal but unusual: Credo then takes other KMS paths.
    if (!recipient || recipient.header.sender !== undefined || recipient.header.iv !== undefined) {
      return skip('not-anoncrypt')
    }
    const keyId = this.deps.routingKeys.keyIdFor(recipient.header.kid)
    if (!keyId) return skip('not-routing-key')

    const { agentContext, kms } = this.deps
    let plaintext: unknown
    try {
      const body = await openEnvelopeBody(kms, agentContext, envelope, recipient, keyId)
      plaintext = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
    } catch (error) {
      // Infrastructure trouble (the key store unreachable) is not the message's fault: retry.
      if (!(isDecryptionFailure(error) || error instanceof SyntaxError)) throw error
      return skip('not-decryptable')
    }
    const forward = readForward(plaintext)
    if (!forward) return skip('not-forward')
    const target = await this.deps.recipients.find(forward.to)
    if (!target) return skip('unknown-recipient')

    await this.deps.backgroundWrites.run(async () =>
      this.deps.queue.addMessage(agentContext, {
        connectionId: target.connectionId,
        recipientDids: [target.recipientDid],
        // The inner envelope as the sender wrote it; Credo queues the same object.
        payload: forward.msg as unknown as DidCommEncryptedMessage,
        receivedAt: new Date(job.receivedAt),
        settlesOrder: true,
      }),
    )
    this.deps.onForwarded?.()
    log.debug({ connectionId: target.connectionId, forwardId: forward.id }, 'forward queued (fast path)')
    return true
  }
}
