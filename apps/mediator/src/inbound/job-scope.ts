import { AsyncLocalStorage } from 'node:async_hooks'
import { orderKeyOf, type InboundOrderRef } from '@mediator/redis'

interface Scope {
  messageId: string
  order?: InboundOrderRef
  adds: number
  /** Whether a settling add already gave up the job's place in the order (see settled). */
  settled: boolean
}

/** One job's scope (JobScope.begin). */
export interface JobRun {
  within<T>(fn: () => Promise<T>): Promise<T>
  /** Ends the scope; says whether the job's place in the order was already given up by a settling add. */
  end(): { settled: boolean }
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
    const scope: Scope = { messageId, order, adds: 0, settled: false }
    return {
      within: (fn) => this.storage.run(scope, fn),
      end: () => ({ settled: scope.settled }),
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
   * The job's last add was queued with `settlesOrder` (the forward fast path queues exactly one), which
   * gave up the job's place in the order in the same step: the job's end has nothing left to finish.
   */
  public settled(): void {
    const scope = this.storage.getStore()
    if (scope) scope.settled = true
  }
}
