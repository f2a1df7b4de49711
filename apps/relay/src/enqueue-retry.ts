import type { InboundMessageJob } from '@mediator/contracts'
import type { InboundOrder, InboundQueue } from '@mediator/redis'

/**
 * Runs `add` until it succeeds or `retryForMs` has passed, waiting 100 ms, 200 ms, ... up to 1 s
 * between tries; rethrows the last error. The same job id on every try makes a retry of an add that
 * did land (after it was counted as timed out) a no-op, not a second message.
 */
export async function addWithRetry<T>(add: () => Promise<T>, retryForMs: number): Promise<T> {
  const giveUpAt = Date.now() + retryForMs
  for (let attempt = 0; ; attempt++) {
    try {
      return await add()
    } catch (error) {
      const wait = retryDelay(attempt)
      if (Date.now() + wait >= giveUpAt) throw error
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

function retryDelay(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 1_000)
}

/**
 * Stores an inbound message as a job, after giving it its place in the acknowledgement order, both
 * retried (addWithRetry) within `retryForMs` in all. The place is taken once, outside the add's
 * retries, so a retried add keeps it. A message that may be for any wallet (`barrier`, an anoncrypted
 * one) holds later deliveries back until a worker has processed it; one that could not be stored
 * gives its place up again, so it holds nothing back.
 */
export async function storeMessage(
  order: InboundOrder,
  queue: InboundQueue,
  job: InboundMessageJob,
  barrier: boolean,
  retryForMs: number,
): Promise<void> {
  const giveUpAt = Date.now() + retryForMs
  const place = await addWithRetry(() => order.register(job.messageId, barrier), retryForMs)
  try {
    await addWithRetry(() => queue.addMessage({ ...job, order: place }), Math.max(0, giveUpAt - Date.now()))
  } catch (error) {
    if (barrier) order.abandon(job.messageId).catch(() => undefined)
    throw error
  }
}
