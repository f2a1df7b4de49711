import {
  DidCommBasicMessage,
  DidCommEventTypes,
  DidCommMessageDeliveryV2Message,
  DidCommMessagesReceivedV2Message,
  DidCommStatusV2Message,
  type DidCommAttachment,
  type DidCommMessageSentEvent,
} from '@credo-ts/didcomm'
import type { createCredoAgent } from '@mediator/credo-runtime'
import { WireOrder } from './wire-order.js'

type CredoAgent = ReturnType<typeof createCredoAgent>

/** One queued message as the wallet saw it arrive in a pickup v2 delivery. */
export interface ObservedDelivery {
  /** The mediator's queue id of the message (the attachment id). */
  readonly attachmentId: string
  /** Order of arrival among everything the tracker saw. */
  readonly seq: number
  /** Whether the mediator had already confirmed removing this message when it arrived. */
  readonly afterConfirmation: boolean
  /** Where its delivery message came off the wire among what the wallet received, and its place in it. */
  readonly wire?: { frame: number; position: number }
}

/**
 * Watches a wallet's pickup v2 traffic to check the delivery guarantee precisely: a queued message
 * (identified by its attachment id, the mediator's queue id) must never arrive again once the
 * mediator has confirmed its removal. The confirmation is the mediator's `status` answer on the
 * thread of the wallet's `messages-received`: Credo's mediator removes the messages before it writes
 * that answer, so once the wallet has read it, those ids are gone for good. A message that arrives
 * again before that point was not confirmed, and may legitimately be delivered more than once.
 */
export class DeliveryTracker {
  public readonly deliveries: ObservedDelivery[] = []
  /**
   * Give createCredoAgent `wire.webSocketClass()` and `wire.fetch()` so that deliveries are ordered
   * as they arrived.
   */
  public readonly wire = new WireOrder()
  private seq = 0
  /** messages-received thread id -> the attachment ids it confirms. */
  private readonly receipts = new Map<string, string[]>()
  /** status answers seen (thread id -> seq), also those that came before we saw their receipt sent. */
  private readonly statuses = new Map<string, number>()
  private readonly confirmedAt = new Map<string, number>()
  private readonly ciphertextById = new Map<string, string>()
  private readonly contentByCiphertext = new Map<string, string>()

  /** Starts watching `agent` (call again for a new agent of the same wallet after a restart). */
  public attach(agent: CredoAgent): void {
    agent.didcomm.registerMessageHandlerMiddleware(async (context, next) => {
      const { message } = context
      if (message instanceof DidCommMessageDeliveryV2Message) {
        const frame = context.encryptedMessage ? this.wire.indexOf(context.encryptedMessage.ciphertext) : undefined
        ;(message.appendedAttachments ?? []).forEach((attachment, position) =>
          this.recordDelivery(attachment, frame === undefined ? undefined : { frame, position }),
        )
      } else if (message instanceof DidCommStatusV2Message && message.threadId) {
        this.recordStatus(message.threadId)
      } else if (message instanceof DidCommBasicMessage && context.encryptedMessage) {
        this.contentByCiphertext.set(context.encryptedMessage.ciphertext, message.content)
      }
      await next()
    })
    agent.events.on<DidCommMessageSentEvent>(DidCommEventTypes.DidCommMessageSent, (event) => {
      const sent = event.payload.message.message
      if (sent instanceof DidCommMessagesReceivedV2Message) this.recordReceipt(sent.threadId, sent.messageIdList)
    })
  }

  /** Deliveries of messages whose removal the mediator had already confirmed: must stay empty. */
  public violations(): Array<ObservedDelivery & { content?: string }> {
    return this.deliveries.filter((d) => d.afterConfirmation).map((d) => ({ ...d, content: this.contentOf(d.attachmentId) }))
  }

  /**
   * The same envelope queued again under a new id (its forward was processed twice, e.g. after its
   * worker died between queueing it and completing the job) and arriving after the first copy was
   * confirmed. The queue cannot know the two are one message; the wallet sees the message again.
   */
  public copiesAfterConfirmation(): Array<{ attachmentId: string; copyOf: string; content?: string }> {
    const firstById = new Map<string, string>()
    const found: Array<{ attachmentId: string; copyOf: string; content?: string }> = []
    for (const d of this.deliveries) {
      const ciphertext = this.ciphertextById.get(d.attachmentId)
      if (ciphertext === undefined) continue
      const first = firstById.get(ciphertext)
      if (first === undefined) {
        firstById.set(ciphertext, d.attachmentId)
        continue
      }
      const confirmedAt = this.confirmedAt.get(first)
      if (first !== d.attachmentId && confirmedAt !== undefined && confirmedAt < d.seq) {
        found.push({ attachmentId: d.attachmentId, copyOf: first, content: this.contentOf(d.attachmentId) })
      }
    }
    return found
  }

  /**
   * The basic-message contents in the order they first reached the wallet (each once), as they came
   * off the wire: what per-wallet ordering is judged by.
   */
  public contentsInArrivalOrder(): string[] {
    const seen = new Set<string>()
    const out: string[] = []
    const overWire = this.deliveries.filter((d) => d.wire !== undefined)
    if (overWire.length < this.deliveries.length) throw new Error('a delivery came in by a way the wire order does not see')
    overWire.sort((a, b) => a.wire!.frame - b.wire!.frame || a.wire!.position - b.wire!.position)
    for (const d of overWire) {
      const content = this.contentOf(d.attachmentId)
      if (content === undefined || seen.has(content)) continue
      seen.add(content)
      out.push(content)
    }
    return out
  }

  /** How often each queued message arrived (id -> count). */
  public arrivals(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const d of this.deliveries) counts.set(d.attachmentId, (counts.get(d.attachmentId) ?? 0) + 1)
    return counts
  }

  /** How many queued messages the wallet knows to be confirmed (it read the mediator's answer). */
  public get confirmedCount(): number {
    return this.confirmedAt.size
  }

  public isConfirmed(attachmentId: string): boolean {
    return this.confirmedAt.has(attachmentId)
  }

  /** The basic message content a queued message carried, once the wallet has processed it. */
  public contentOf(attachmentId: string): string | undefined {
    const ciphertext = this.ciphertextById.get(attachmentId)
    return ciphertext === undefined ? undefined : this.contentByCiphertext.get(ciphertext)
  }

  /** A one-line account for failure messages. */
  public summary(): string {
    const arrivals = [...this.arrivals().values()]
    return (
      `${this.deliveries.length} deliveries of ${arrivals.length} queued messages, ` +
      `${arrivals.filter((n) => n > 1).length} arrived more than once, ${this.confirmedAt.size} confirmed, ` +
      `${this.violations().length} arrived after their confirmation, ` +
      `${this.copiesAfterConfirmation().length} copies queued again arrived after the first was confirmed`
    )
  }

  private recordDelivery(attachment: DidCommAttachment, wire?: { frame: number; position: number }): void {
    const json = attachment.getDataAsJson<{ ciphertext?: unknown }>()
    if (typeof json?.ciphertext === 'string') this.ciphertextById.set(attachment.id, json.ciphertext)
    this.deliveries.push({
      attachmentId: attachment.id,
      seq: ++this.seq,
      afterConfirmation: this.confirmedAt.has(attachment.id),
      ...(wire ? { wire } : {}),
    })
  }

  private recordReceipt(threadId: string, ids: string[]): void {
    this.receipts.set(threadId, ids)
    const statusSeq = this.statuses.get(threadId)
    if (statusSeq !== undefined) this.confirm(ids, statusSeq)
  }

  private recordStatus(threadId: string): void {
    const seq = ++this.seq
    this.statuses.set(threadId, seq)
    const ids = this.receipts.get(threadId)
    if (ids) this.confirm(ids, seq)
  }

  private confirm(ids: string[], seq: number): void {
    for (const id of ids) if (!this.confirmedAt.has(id)) this.confirmedAt.set(id, seq)
  }
}
