import { Queue } from 'bullmq'
import type { JobsOptions, KeepJobs } from 'bullmq'
import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import {
  INBOUND_QUEUE_NAME,
  inboundMessageJobSchema,
  socketClosedJobSchema,
} from '@mediator/contracts'
import type {
  InboundJob,
  InboundMessageJob,
  RedisKeys,
  SocketClosedJob,
} from '@mediator/contracts'

/**
 * Retry policy every inbound job carries. A mediator worker relies on it: a job that throws is retried
 * `attempts` times in total with exponential backoff starting at `backoffMs`, then lands in the failed
 * set (the dead letters) instead of vanishing. Workers retry only infrastructure failures, so the
 * attempts must outlast an outage: 10 from 1 s wait 511 s in all, through a Postgres restart or
 * failover (tens of seconds). 5 attempts waited 15 s, and a 20 s Postgres stop dead-lettered
 * acknowledged forwards.
 */
export const DEFAULT_INBOUND_JOB_ATTEMPTS = 10
export const DEFAULT_INBOUND_JOB_BACKOFF_MS = 1_000
/** An add that has not resolved by then is reported as failed, so the caller can answer 503 at once. */
export const DEFAULT_INBOUND_ADD_TIMEOUT_MS = 2_000

/** BullMQ retention: `true` removes at once, a number keeps that many, `{age, count}` bounds by age (s) and count. */
export type JobRetention = boolean | number | KeepJobs

export interface InboundQueueOptions {
  /**
   * The connection to add with. Give it `enableOfflineQueue: false` (see `createFailFastRedis`) so an
   * add fails at once while Redis is unreachable instead of waiting in ioredis' offline queue.
   */
  connection: Redis
  keys: RedisKeys
  attempts?: number
  backoffMs?: number
  /** Left unset by default: retention is the worker's business (Worker `removeOnComplete`). */
  removeOnComplete?: JobRetention
  removeOnFail?: JobRetention
  addTimeoutMs?: number
}

/** Raised when Redis did not store the job in time or refused it; nothing may be acknowledged. */
export class InboundQueueUnavailableError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'InboundQueueUnavailableError'
  }
}

/**
 * An add that did not resolve within the add timeout while the connection was up: Redis (or this
 * process) is slow, and the add is usually still on its way. `pending` settles when it does; sending
 * the same add again would only queue a second copy of the work behind the first.
 */
export class InboundAddTimeoutError extends InboundQueueUnavailableError {
  public constructor(
    message: string,
    public readonly pending: Promise<void>,
  ) {
    super(message)
    this.name = 'InboundAddTimeoutError'
  }
}

/**
 * The producer side of the inbound queue: one BullMQ job per message and per socket event, validated
 * against the contract, with ids that make a retried add a no-op. It only adds; workers consume.
 */
export class InboundQueue {
  private readonly queue: Queue
  private readonly jobDefaults: JobsOptions
  private readonly addTimeoutMs: number

  public constructor(opts: InboundQueueOptions) {
    this.queue = new Queue(INBOUND_QUEUE_NAME, {
      connection: opts.connection,
      prefix: opts.keys.bullPrefix,
    })
    // Without a listener an 'error' event would throw; connection errors surface through the add anyway.
    this.queue.on('error', () => undefined)
    this.addTimeoutMs = opts.addTimeoutMs ?? DEFAULT_INBOUND_ADD_TIMEOUT_MS
    this.jobDefaults = {
      attempts: opts.attempts ?? DEFAULT_INBOUND_JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: opts.backoffMs ?? DEFAULT_INBOUND_JOB_BACKOFF_MS },
      ...(opts.removeOnComplete !== undefined ? { removeOnComplete: opts.removeOnComplete } : {}),
      ...(opts.removeOnFail !== undefined ? { removeOnFail: opts.removeOnFail } : {}),
    }
  }

  /** The job options every add uses (attempts, backoff, retention), for documentation and tests. */
  public get defaultJobOptions(): Readonly<JobsOptions> {
    return this.jobDefaults
  }

  /** Stores one inbound message; the job id is the message id. */
  public async addMessage(job: InboundMessageJob): Promise<void> {
    const data = inboundMessageJobSchema.parse(job)
    await this.add(data, data.messageId)
  }

  public async addSocketClosed(job: SocketClosedJob): Promise<void> {
    const data = socketClosedJobSchema.parse(job)
    await this.add(data, socketEventJobId(data.socketId, 'closed'))
  }

  /**
   * Closes the producer (not the connection it was given). Bounded: BullMQ's close waits for the
   * connection to have become ready once, which never happens if Redis was down all along.
   */
  public async close(timeoutMs = 2_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.queue.close().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs)
      }),
    ])
    clearTimeout(timer)
  }

  private async add(data: InboundJob, jobId: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const adding = this.queue.add(data.kind, data, { ...this.jobDefaults, jobId }).then(
      () => undefined,
      (err: unknown) => {
        throw new InboundQueueUnavailableError(`inbound job add failed: ${(err as Error).message}`, { cause: err })
      },
    )
    // Whoever gave up on it may not be listening any more.
    adding.catch(() => undefined)
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new InboundAddTimeoutError(`inbound job add timed out after ${this.addTimeoutMs} ms`, adding)),
        this.addTimeoutMs,
      )
    })
    // Both reject with an InboundQueueUnavailableError: `adding` wraps BullMQ's failure itself.
    try {
      await Promise.race([adding, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** BullMQ refuses ':' in custom ids, hence the dash. */
export function socketEventJobId(socketId: string, event: 'opened' | 'closed'): string {
  return `${socketId}-${event}`
}

/**
 * An ioredis connection for producers that must never wait silently: commands fail at once while the
 * connection is down (no offline queue) and are not retried across reconnects. It keeps reconnecting
 * in the background, so adds work again as soon as Redis is back.
 */
export function createFailFastRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    ...options,
  })
  // ioredis reports every failed reconnect as an 'error' event; callers see failures through commands.
  redis.on('error', () => undefined)
  return redis
}
