import { AsyncLocalStorage } from 'node:async_hooks'
import { orderKeyOf, type InboundOrderRef } from '@mediator/redis'

interface Scope {
  messageId: string
  order?: InboundOrderRef
  adds: number
  /** Connections a live delivery of this job holds until the job ends (see keepLiveHold). */
  liveHolds: Set<string>
  ended: boolean
}

/** One job's scope (JobScope.begin). */
export interface JobRun {
  within<T>(fn: () => Promise<T>): Promise<T>
  /** Ends the scope; returns the connections whose live delivery hold the job kept, to release. */
  end(): string[]
}

/** What a queue add inside a job carries (see JobScope.nextAdd). */
export interface JobAdd {
  idempotencyKey: string
  /** The add's place in the acknowledgement order; absent for a job that carries none. */
  orderKey?: number
  orderOwner: string
}

/**
 * Which inbound job the current code runs for. A job can be processed twice (its worker died after
 * doing part of the work, and BullMQ handed it to another worker); what it queued the first time must
 * not be queued again. Each queue add inside a job gets a key derived from the relay's message id and
 * the add's position in the job, the same on every attempt, and the pickup queue refuses a key it has
 * seen. The same position, under the job's place in the order relays acknowledged messages in, orders
 * the add among the wallet's other messages, on every attempt alike.
 */
export class JobScope {
  private readonly storage = new AsyncLocalStorage<Scope>()

  /** Starts the scope of one job; run its work `within` it, and `end` it when the work is done. */
  public begin(messageId: string, order: InboundOrderRef | undefined): JobRun {
    const scope: Scope = { messageId, order, adds: 0, liveHolds: new Set(), ended: false }
    return {
      within: (fn) => this.storage.run(scope, fn),
      end: () => {
        scope.ended = true
        return [...scope.liveHolds]
      },
    }
  }

  /** The next add's idempotency key and order, or undefined outside a job (nothing to order against). */
  public nextAdd(): JobAdd | undefined {
    const scope = this.storage.getStore()
    if (!scope) return undefined
    const position = scope.adds++
    return {
      idempotencyKey: `${scope.messageId}:${position}`,
      orderOwner: scope.messageId,
      ...(scope.order ? { orderKey: orderKeyOf(scope.order.seq, position) } : {}),
    }
  }

  /** The inbound message being processed, whose own place in the order holds nothing back for it. */
  public currentMessageId(): string | undefined {
    return this.storage.getStore()?.messageId
  }

  /**
   * A live delivery of this job (its token is the message id) keeps its hold on `connectionId` until
   * the job ends, so the release goes with the job's finish in one round trip. False outside a job,
   * or once the job has ended: the caller then releases at once.
   */
  public keepLiveHold(connectionId: string): boolean {
    const scope = this.storage.getStore()
    if (!scope || scope.ended) return false
    scope.liveHolds.add(connectionId)
    return true
  }
}
