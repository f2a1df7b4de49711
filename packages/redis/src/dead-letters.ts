import { Job, Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME } from '@mediator/contracts'
import type { InboundJob, RedisKeys } from '@mediator/contracts'
import { readEnvelopeHeader, type EnvelopeHeader } from './envelope-header.js'

/**
 * A dead letter is an inbound job in BullMQ's failed set: a worker gave up on it (a permanent error,
 * or a transient one after the job's last attempt). It keeps the relay's whole job, the envelope
 * included, with the reason, until the workers' retention (14 days) or an operator removes it.
 */
export interface DeadLetter {
  readonly id: string
  /** `message`, `socket-opened` or `socket-closed`. */
  readonly kind: string
  readonly failedReason: string
  /** When the worker gave up (ms, its clock). */
  readonly failedAt?: number
  /** When the relay stored the job (ms). */
  readonly queuedAt: number
  readonly attemptsMade: number
  readonly relayId?: string
  readonly socketId?: string
  readonly transport?: string
  /** What the relay could read of the envelope (message jobs). */
  readonly envelope?: EnvelopeHeader
}

/** A dead letter with everything it carries, for `show`. */
export interface DeadLetterDetail extends DeadLetter {
  readonly data: unknown
  readonly stacktrace: readonly string[]
}

export interface DeadLetterFilter {
  /** Failed at or after (ms). */
  readonly since?: number
  /** Failed at or before (ms). */
  readonly until?: number
  /** Case-insensitive text in the failure reason. */
  readonly error?: string
  /**
   * Spellings of one key (base58, did:key): matches a dead letter whose envelope is encrypted to it or
   * whose reason names it (a forward to a key nobody registered names the wallet's key).
   */
  readonly recipient?: readonly string[]
  /** A connection id the reason names (a wallet's queue at its cap names its connection). */
  readonly connectionId?: string
  readonly relayId?: string
  readonly socketId?: string
  readonly kind?: string
  /** At most this many, newest failure first. */
  readonly limit?: number
}

export type ReplayOutcome = { id: string; outcome: 'replayed' } | { id: string; outcome: 'not-found' } | { id: string; outcome: 'not-dead'; state: string }
export type PurgeOutcome = { id: string; outcome: 'purged' } | { id: string; outcome: 'not-found' } | { id: string; outcome: 'not-dead'; state: string }

const PAGE = 200

/** Operator's access to the inbound queue's dead letters: list, inspect, replay, purge. */
export class DeadLetters {
  private readonly queue: Queue<InboundJob>

  public constructor(connection: Redis, keys: RedisKeys) {
    this.queue = new Queue<InboundJob>(INBOUND_QUEUE_NAME, { connection, prefix: keys.bullPrefix })
    // Failures reach the caller through each command; the event would otherwise throw.
    this.queue.on('error', () => undefined)
  }

  /** The inbound queue itself, for the figures next to the dead letters. */
  public get inbound(): Queue<InboundJob> {
    return this.queue
  }

  public count(): Promise<number> {
    return this.queue.getFailedCount()
  }

  /** Matching dead letters, newest failure first. */
  public async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const found: DeadLetter[] = []
    const limit = filter.limit ?? Number.POSITIVE_INFINITY
    for (let start = 0; found.length < limit; start += PAGE) {
      const jobs = await this.queue.getFailed(start, start + PAGE - 1)
      for (const job of jobs) {
        const letter = toDeadLetter(job as Job<InboundJob>)
        // The failed set is ordered by failure time: past `since`, nothing older can match.
        if (filter.since !== undefined && letter.failedAt !== undefined && letter.failedAt < filter.since) return found
        if (matches(letter, filter)) found.push(letter)
        if (found.length >= limit) break
      }
      if (jobs.length < PAGE) break
    }
    return found
  }

  /** One dead letter; undefined when no job has that id or it is not in the failed set. */
  public async get(id: string): Promise<DeadLetterDetail | undefined> {
    const job = await Job.fromId<InboundJob>(this.queue, id)
    if (!job || (await job.getState()) !== 'failed') return undefined
    return { ...toDeadLetter(job), data: job.data, stacktrace: job.stacktrace ?? [] }
  }

  /**
   * Puts dead letters back on the inbound queue, with their attempts counted from zero, as the same
   * job (same id, same payload, same place in the acknowledgement order). BullMQ moves a job only out
   * of the failed set, atomically, so two operators replaying the same id start it once.
   */
  public async replay(ids: readonly string[]): Promise<ReplayOutcome[]> {
    const outcomes: ReplayOutcome[] = []
    for (const id of ids) {
      const job = await Job.fromId<InboundJob>(this.queue, id)
      if (!job) {
        outcomes.push({ id, outcome: 'not-found' })
        continue
      }
      const state = await job.getState()
      if (state !== 'failed') {
        outcomes.push({ id, outcome: 'not-dead', state })
        continue
      }
      try {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
        outcomes.push({ id, outcome: 'replayed' })
      } catch {
        // Someone else moved it between the two reads.
        outcomes.push({ id, outcome: 'not-dead', state: await job.getState() })
      }
    }
    return outcomes
  }

  /** Removes dead letters for good. Only jobs in the failed set are removed, whatever ids are given. */
  public async purge(ids: readonly string[]): Promise<PurgeOutcome[]> {
    const outcomes: PurgeOutcome[] = []
    for (const id of ids) {
      const state = await this.queue.getJobState(id)
      if (state === 'unknown') outcomes.push({ id, outcome: 'not-found' })
      else if (state !== 'failed') outcomes.push({ id, outcome: 'not-dead', state })
      else if ((await this.queue.remove(id)) === 1) outcomes.push({ id, outcome: 'purged' })
      else outcomes.push({ id, outcome: 'not-dead', state: await this.queue.getJobState(id) })
    }
    return outcomes
  }

  /** Closes the queue handle (not the connection it was given). */
  public async close(): Promise<void> {
    await this.queue.close()
  }
}

function toDeadLetter(job: Job<InboundJob>): DeadLetter {
  const data = job.data as Partial<InboundJob> | undefined
  const envelope = data?.kind === 'message' && typeof data.payload === 'string' ? readEnvelopeHeader(data.payload) : undefined
  return {
    id: String(job.id),
    kind: job.name,
    failedReason: job.failedReason ?? '',
    ...(job.finishedOn !== undefined ? { failedAt: job.finishedOn } : {}),
    queuedAt: job.timestamp,
    attemptsMade: job.attemptsMade,
    ...(typeof data?.relayId === 'string' ? { relayId: data.relayId } : {}),
    ...(typeof data?.socketId === 'string' ? { socketId: data.socketId } : {}),
    ...(typeof data?.transport === 'string' ? { transport: data.transport } : {}),
    ...(envelope ? { envelope } : {}),
  }
}

function matches(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.until !== undefined && (letter.failedAt ?? 0) > filter.until) return false
  if (filter.kind !== undefined && letter.kind !== filter.kind) return false
  if (filter.relayId !== undefined && letter.relayId !== filter.relayId) return false
  if (filter.socketId !== undefined && letter.socketId !== filter.socketId) return false
  if (filter.connectionId !== undefined && !letter.failedReason.includes(filter.connectionId)) return false
  if (filter.error !== undefined && !letter.failedReason.toLowerCase().includes(filter.error.toLowerCase())) return false
  if (filter.recipient !== undefined && filter.recipient.length > 0) {
    const kids = letter.envelope?.recipientKids ?? []
    const named = filter.recipient.some((key) => kids.includes(key) || letter.failedReason.includes(key))
    if (!named) return false
  }
  return true
}
