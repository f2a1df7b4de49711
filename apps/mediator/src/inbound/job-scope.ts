import { AsyncLocalStorage } from 'node:async_hooks'

interface Scope {
  messageId: string
  adds: number
}

/**
 * Which inbound job the current code runs for. A job can be processed twice (its worker died after
 * doing part of the work, and BullMQ handed it to another worker); what it queued the first time must
 * not be queued again. Each queue add inside a job gets a key derived from the relay's message id and
 * the add's position in the job, the same on every attempt, and the pickup queue refuses a key it has
 * seen.
 */
export class JobScope {
  private readonly storage = new AsyncLocalStorage<Scope>()

  public run<T>(messageId: string, fn: () => Promise<T>): Promise<T> {
    return this.storage.run({ messageId, adds: 0 }, fn)
  }

  /** The next add's idempotency key, or undefined outside a job (nothing to deduplicate against). */
  public nextIdempotencyKey(): string | undefined {
    const scope = this.storage.getStore()
    if (!scope) return undefined
    return `${scope.messageId}:${scope.adds++}`
  }
}
