import type { InboundMessageJob } from '@mediator/contracts'
import { InboundAddTimeoutError, type InboundOrder, type InboundQueue } from '@mediator/redis'

export interface RetryWindow<T> {
  /** How long adds that failed are tried again (Redis unreachable, refusing). */
  retryForMs: number
  /**
   * How long an add that timed out but is still on its way (Redis or this process slow, not gone) is
   * waited for, counted from the first try; at least `retryForMs`.
   */
  patienceMs?: number
  /** The add still on its way behind an error, if the error says so. */
  inFlight?: (error: unknown) => Promise<T> | undefined
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown } | { ok: false; timedOut: true }

/** Waits for `pending` at most until `deadline` (ms since the epoch). */
async function settleBy<T>(pending: Promise<T>, deadline: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, timedOut: true }), Math.max(0, deadline - Date.now()))
  })
  try {
    return await Promise.race([
      pending.then(
        (value): Settled<T> => ({ ok: true, value }),
        (error: unknown): Settled<T> => ({ ok: false, error }),
      ),
      timedOut,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Runs `add` until it succeeds or `retryForMs` has passed, waiting 100 ms, 200 ms, ... up to 1 s
 * between tries; rethrows the last error. The same job id on every try makes a retry of an add that
 * did land (after it was counted as timed out) a no-op, not a second message.
 *
 * An add that timed out while it is still on its way (`inFlight`) is not sent again: a Redis that is
 * slow, not gone, would only get the same work twice, and the socket closed with 1013 meanwhile would
 * come back with more (a reconnect storm fed itself that way). It is waited for until `patienceMs`.
 */
export async function addWithRetry<T>(add: () => Promise<T>, window: number | RetryWindow<T>): Promise<T> {
  const { retryForMs, patienceMs, inFlight } = typeof window === 'number' ? { retryForMs: window } : window
  const started = Date.now()
  const giveUpAt = started + retryForMs
  const patientUntil = started + Math.max(retryForMs, patienceMs ?? 0)
  for (let attempt = 0; ; attempt++) {
    let failure: unknown
    try {
      return await add()
    } catch (error) {
      failure = error
    }
    const pending = inFlight?.(failure)
    if (pending) {
      const settled = await settleBy(pending, patientUntil)
      // What was on its way landed: the add that timed out is the add that succeeded.
      if (settled.ok) return settled.value
      if ('timedOut' in settled) throw failure
      failure = settled.error
    }
    const wait = retryDelay(attempt)
    if (Date.now() + wait >= giveUpAt) throw failure
    await new Promise((resolve) => setTimeout(resolve, wait))
  }
}

function retryDelay(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 1_000)
}

/** The add behind an InboundQueue timeout, still on its way. */
export function inboundAddInFlight(error: unknown): Promise<void> | undefined {
  return error instanceof InboundAddTimeoutError ? error.pending : undefined
}

/**
 * Stores an inbound message as a job, after giving it its place in the acknowledgement order, both
 * retried (addWithRetry) within the window. The place is taken once, outside the add's retries, so a
 * retried add keeps it. A message that may be for any wallet (`barrier`, an anoncrypted one) holds
 * later deliveries back until a worker has processed it; one that could not be stored gives its place
 * up again, so it holds nothing back.
 */
export async function storeMessage(
  order: InboundOrder,
  queue: InboundQueue,
  job: InboundMessageJob,
  barrier: boolean,
  window: { retryForMs: number; patienceMs?: number },
): Promise<void> {
  const started = Date.now()
  const place = await addWithRetry(() => order.register(job.messageId, barrier), window.retryForMs)
  const spent = Date.now() - started
  try {
    await addWithRetry(() => queue.addMessage({ ...job, order: place }), {
      retryForMs: Math.max(0, window.retryForMs - spent),
      patienceMs: Math.max(0, (window.patienceMs ?? 0) - spent),
      inFlight: inboundAddInFlight,
    })
  } catch (error) {
    if (barrier) order.abandon(job.messageId).catch(() => undefined)
    throw error
  }
}
