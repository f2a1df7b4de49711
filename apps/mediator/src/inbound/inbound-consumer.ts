import { UnrecoverableError, Worker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME, inboundJobSchema, type InboundJob, type RedisKeys } from '@mediator/contracts'
import type { Logger } from '@mediator/config'
import type { MediatorMetrics } from '../metrics.js'
import { isTransientError } from './error-classification.js'
import type { JobProcessor } from './job-processor.js'

export interface InboundConsumerOptions {
  /** A connection for BullMQ's blocking reads; it must have `maxRetriesPerRequest: null`. */
  connection: Redis
  keys: RedisKeys
  concurrency: number
  processor: JobProcessor
  metrics: MediatorMetrics
  logger: Logger
  /** Completed jobs kept for inspection (count); failed ones are the dead letters and kept longer. */
  keepCompleted?: number
  keepFailedDays?: number
  /** How long a job's lock lives without renewal: a dead worker's jobs wait at least this long. */
  lockDurationMs?: number
  /** How often to look for jobs whose lock expired (their worker died) and hand them out again. */
  stalledIntervalMs?: number
}

/**
 * The BullMQ consumer of the inbound queue. It owns the retry decision: transient failures are thrown
 * as they are (BullMQ retries with the backoff the relay put on the job); everything else becomes an
 * UnrecoverableError and lands in the failed set, the dead letters, with its error.
 */
export class InboundConsumer {
  private worker?: Worker<InboundJob>

  public constructor(private readonly options: InboundConsumerOptions) {}

  public async start(): Promise<void> {
    const { connection, keys, concurrency } = this.options
    this.worker = new Worker<InboundJob>(INBOUND_QUEUE_NAME, (job) => this.process(job), {
      connection,
      prefix: keys.bullPrefix,
      concurrency,
      removeOnComplete: { count: this.options.keepCompleted ?? 1_000 },
      removeOnFail: { age: (this.options.keepFailedDays ?? 14) * 24 * 3600 },
      // A job whose worker died (kill -9) is handed to another worker once its lock has expired
      // and the next stalled-job check runs.
      lockDuration: this.options.lockDurationMs ?? 30_000,
      stalledInterval: this.options.stalledIntervalMs ?? 15_000,
      maxStalledCount: 3,
    })
    this.worker.on('failed', (job, error) => {
      if (!job) return
      const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)
      if (final) {
        this.options.metrics.deadLetters.inc()
        this.options.logger.error(
          { jobId: job.id, kind: job.name, attempts: job.attemptsMade, err: error },
          'job moved to dead letters',
        )
      }
    })
    this.worker.on('error', (error) => this.options.logger.error({ err: error }, 'inbound consumer error'))
    await this.worker.waitUntilReady()
  }

  /** Stops taking new jobs and waits for the ones in progress (graceful shutdown). */
  public async close(): Promise<void> {
    await this.worker?.close()
  }

  private async process(job: Job<InboundJob>): Promise<void> {
    const parsed = inboundJobSchema.safeParse(job.data)
    if (!parsed.success) {
      this.options.metrics.jobs.inc({ kind: job.name, outcome: 'dead_letter' })
      throw new UnrecoverableError(`job does not match the inbound contract: ${parsed.error.message}`)
    }
    const data = parsed.data
    const log = this.options.logger.child({
      jobId: job.id,
      kind: data.kind,
      relayId: data.relayId,
      socketId: data.socketId,
      attempt: job.attemptsMade + 1,
    })
    const end = this.options.metrics.jobDuration.startTimer({ kind: data.kind })
    try {
      if (data.kind === 'message') await this.options.processor.processMessage(data, log)
      else if (data.kind === 'socket-closed') await this.options.processor.processSocketClosed(data, log)
      this.options.metrics.jobs.inc({ kind: data.kind, outcome: 'ok' })
    } catch (error) {
      if (isTransientError(error) && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
        this.options.metrics.retries.inc()
        this.options.metrics.jobs.inc({ kind: data.kind, outcome: 'retry' })
        log.warn({ err: error }, 'job failed, will retry')
        throw error
      }
      this.options.metrics.jobs.inc({ kind: data.kind, outcome: 'dead_letter' })
      if (isTransientError(error)) throw error
      throw new UnrecoverableError((error as Error)?.message ?? String(error))
    } finally {
      end()
    }
  }
}
