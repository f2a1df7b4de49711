import { Queue } from 'bullmq'
import { INBOUND_QUEUE_NAME, RedisKeys } from '@mediator/contracts'
import { EnvelopePacker, PeerKeyCache } from '../../src/forward/index.js'
import { packForwards, type ForwardTarget, type PackedForward } from '../support/forward-packing.js'
import type { ClusterArgs } from './args.js'
import type { DeliveryLedger } from './load/delivery-ledger.js'
import type { LoadFleet } from './load/load-fleet.js'
import type { LoadEvents } from './load/protocol.js'
import type { ForwardSender } from './forward-sender.js'
import type { Topology } from './topology.js'
import type { WalletFleet } from './wallet-fleet.js'

/** Everything a cluster scenario works with. */
export interface RunContext {
  args: ClusterArgs
  topology: Topology
  fleet: WalletFleet
  load: LoadFleet
  ledger: DeliveryLedger
  sender: ForwardSender
  /** Every batch of load events from now on, until the returned function is called. */
  subscribe(listener: (events: LoadEvents) => void): () => void
  log: (text: string) => void
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
export const epochMs = () => performance.timeOrigin + performance.now()

/** Packs `count` forwards to wallets picked evenly over the whole fleet. */
export async function packFor(fleet: Pick<WalletFleet, 'kms' | 'ctx'>, targets: readonly ForwardTarget[], count: number): Promise<PackedForward[]> {
  const packer = new EnvelopePacker(fleet.kms, sharedPeers)
  const stride = Math.max(1, Math.floor(targets.length / Math.max(1, Math.min(count, targets.length))))
  const picked = Array.from({ length: Math.min(count, targets.length) }, (_, i) => targets[(i * stride + offset++) % targets.length] as ForwardTarget)
  return packForwards(packer, fleet.ctx, picked, count)
}
const sharedPeers = new PeerKeyCache()
let offset = 0

/** Waits until every acknowledged forward sent in [from, to) arrived, or `timeoutMs`. */
export async function waitDelivered(ledger: DeliveryLedger, from: number, to: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ledger.allDelivered(from, to) && Date.now() < deadline) await sleep(250)
}

/**
 * `read` on a short-lived view of the run's inbound queue; `fallback` when Redis does not answer within
 * 3 s or fails. Without an offline queue (the default here) a command waits for no reconnect, and BullMQ
 * then reports the connection's failure as an 'error' event, which must have a listener: with none it
 * ended the whole run (seen at 100,000 wallets, when the harness's new connection was slow to open).
 */
async function readInboundQueue<T, F>(redisUrl: string, read: (queue: Queue) => Promise<T>, fallback: F, offlineQueue = false): Promise<T | F> {
  const queue = new Queue(INBOUND_QUEUE_NAME, {
    connection: { url: redisUrl, maxRetriesPerRequest: 1, enableOfflineQueue: offlineQueue },
    prefix: new RedisKeys('bench').bullPrefix,
  })
  queue.on('error', () => undefined)
  try {
    return await Promise.race([read(queue), sleep(3_000).then(() => fallback)])
  } catch {
    return fallback
  } finally {
    await queue.close().catch(() => undefined)
  }
}

/** The failure reasons of the first `count` dead-lettered jobs. */
export async function deadLetterReasons(redisUrl: string, count: number): Promise<string[]> {
  const jobs = await readInboundQueue(redisUrl, (queue) => queue.getJobs(['failed'], 0, count - 1), [], true)
  return jobs.map((j) => `${j.attemptsMade} attempts: ${j.failedReason}`)
}

/**
 * Jobs the workers still have to do (waiting, prioritized, active; not delayed retries nor dead letters),
 * or undefined when Redis does not answer.
 */
export function inboundPending(redisUrl: string): Promise<number | undefined> {
  return readInboundQueue(redisUrl, (queue) => queue.getJobCountByTypes('waiting', 'prioritized', 'active'), undefined)
}

/**
 * Waits until the workers have nothing left to do: the wallets' confirmations of a step's deliveries
 * come up to one confirmation interval after them, and their cost belongs to that step, not the next.
 */
export async function waitInboundIdle(redisUrl: string, confirmMs: number, deadline: number): Promise<boolean> {
  await sleep(Math.min(confirmMs + 250, Math.max(0, deadline - Date.now())))
  let idleReads = 0
  while (Date.now() < deadline) {
    idleReads = (await inboundPending(redisUrl)) === 0 ? idleReads + 1 : 0
    if (idleReads >= 2) return true
    await sleep(250)
  }
  return false
}

/** Dead letters so far: inbound jobs that ran out of attempts (BullMQ's failed set). */
export function deadLetters(redisUrl: string): Promise<number | undefined> {
  return readInboundQueue(redisUrl, (queue) => queue.getJobCountByTypes('failed'), undefined)
}
