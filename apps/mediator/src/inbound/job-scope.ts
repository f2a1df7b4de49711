import { AsyncLocalStorage } from 'node:async_hooks'
import { orderKeyOf, type InboundOrderRef } from '@mediator/redis'

interface Scope {
  messageId: string
  order?: InboundOrderRef
  adds: number
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

  public run<T>(messageId: string, order: InboundOrderRef | undefined, fn: () => Promise<T>): Promise<T> {
    return this.storage.run({ messageId, order, adds: 0 }, fn)
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
}
