import { randomBytes, randomUUID } from 'node:crypto'
import { TypedArrayEncoder } from '@credo-ts/core'
import { Writable } from 'node:stream'
import { UnrecoverableError, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { INBOUND_QUEUE_NAME, INBOUND_JOB_VERSION, type InboundMessageJob, type RedisKeys } from '@mediator/contracts'
import { InboundQueue } from '@mediator/redis'
import { runCli } from '../src/index.js'
import type { Prompt } from '../src/prompt.js'

export interface AdminRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T
}

class Capture extends Writable {
  public text = ''
  public override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString()
    done()
  }
}

/** Runs one mediator-admin command line in this process, as the bin does, and captures its output. */
export async function runAdmin(args: readonly string[], env: Record<string, string>, prompt?: Prompt): Promise<AdminRun> {
  const stdout = new Capture()
  const stderr = new Capture()
  const code = await runCli(args, { env, stdout, stderr, ...(prompt ? { prompt } : {}) })
  return {
    code,
    stdout: stdout.text,
    stderr: stderr.text,
    json: <T>() => JSON.parse(stdout.text) as T,
  }
}

/** A prompt that answers every question with `answer` and remembers what it was asked. */
export function scriptedPrompt(answer: boolean): Prompt & { asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    async confirm(question) {
      asked.push(question)
      return answer
    },
  }
}

/** A random Ed25519-sized key in base58, as wallets register them. */
export function randomBase58Key(): string {
  return TypedArrayEncoder.toBase58(new Uint8Array(randomBytes(32)))
}

/** An inbound message job as a relay stores it, for an envelope encrypted to `kid`. */
export function messageJob(overrides: Partial<InboundMessageJob> & { kid?: string } = {}): InboundMessageJob {
  const { kid = randomBase58Key(), ...rest } = overrides
  const header = { alg: 'Anoncrypt', enc: 'xchacha20poly1305_ietf', typ: 'JWM/1.0', recipients: [{ encrypted_key: 'AAAA', header: { kid } }] }
  return {
    v: INBOUND_JOB_VERSION,
    kind: 'message',
    relayId: 'relay-a',
    socketId: randomUUID(),
    transport: 'http',
    messageId: randomUUID(),
    receivedAt: Date.now(),
    payload: JSON.stringify({ protected: Buffer.from(JSON.stringify(header)).toString('base64url'), iv: 'AA', ciphertext: 'AA', tag: 'AA' }),
    replyExpected: false,
    headers: {},
    ...rest,
  }
}

/**
 * Stores the jobs through the relays' producer and has a BullMQ worker fail each with its reason,
 * without retry, as a mediator worker does with what it cannot process: they end in the failed set.
 */
export async function deadLetter(redisUrl: string, keys: RedisKeys, letters: ReadonlyArray<{ job: InboundMessageJob; reason: string }>): Promise<void> {
  const producer = new Redis(redisUrl, { maxRetriesPerRequest: 3 })
  const consumer = new Redis(redisUrl, { maxRetriesPerRequest: null })
  const queue = new InboundQueue({ connection: producer, keys })
  const reasons = new Map(letters.map((l) => [l.job.messageId, l.reason]))
  const worker = new Worker(
    INBOUND_QUEUE_NAME,
    async (job) => {
      throw new UnrecoverableError(reasons.get(String(job.id)) ?? 'unexpected job')
    },
    { connection: consumer, prefix: keys.bullPrefix, autorun: false },
  )
  let failed = 0
  const allFailed = new Promise<void>((resolve) => {
    worker.on('failed', () => {
      if (++failed === letters.length) resolve()
    })
  })
  try {
    // One at a time, so the failed set's order (by failure time) is the order given.
    for (const l of letters) await queue.addMessage(l.job)
    void worker.run()
    await allFailed
  } finally {
    await worker.close()
    await queue.close()
    producer.disconnect()
    consumer.disconnect()
  }
}
