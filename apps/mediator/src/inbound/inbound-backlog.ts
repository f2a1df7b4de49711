import type { Queue } from 'bullmq'

/**
 * Seconds the oldest waiting inbound job has waited (0 when none waits): the backlog's age, which
 * says more about wallets' delays than its length. BullMQ's wait list takes new jobs at its head, so
 * ascending order starts at the oldest; only that one job is read.
 */
export async function oldestWaitingSeconds(queue: Queue, now: number = Date.now()): Promise<number> {
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true)
  if (!oldest) return 0
  return Math.max(0, (now - oldest.timestamp) / 1000)
}
