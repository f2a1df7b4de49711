import { z } from 'zod'

/**
 * Everything a relay puts on the inbound queue. One BullMQ job per inbound DIDComm message, and one per
 * socket lifecycle event, so that a worker sees connects, messages and disconnects on the same path.
 *
 * The job carries what a worker needs to answer on the same socket (relay id + socket id), never more:
 * the relay cannot read the envelope, so it does not try.
 */

export const INBOUND_QUEUE_NAME = 'inbound'

/** Version of the job payload; a worker refuses (dead-letters) versions it does not know. */
export const INBOUND_JOB_VERSION = 1

export const transportKindSchema = z.enum(['ws', 'http'])
export type TransportKind = z.infer<typeof transportKindSchema>

/** Headers from the WebSocket upgrade or the HTTP request that the operator chose to pass on. */
export const forwardedHeadersSchema = z.record(z.string(), z.string())

const socketRefShape = {
  v: z.literal(INBOUND_JOB_VERSION),
  /** The relay instance holding the socket; look up its internal URL in the relay registry. */
  relayId: z.string().min(1),
  /** Id of the WebSocket, or of the held HTTP request, on that relay. */
  socketId: z.string().min(1),
  transport: transportKindSchema,
}

export const inboundMessageJobSchema = z.object({
  ...socketRefShape,
  kind: z.literal('message'),
  /** Unique id given by the relay; also the BullMQ job id, so a retried add is idempotent. */
  messageId: z.string().min(1),
  /** Epoch milliseconds at which the relay read the message off the wire. */
  receivedAt: z.number().int().nonnegative(),
  /** The envelope exactly as received (UTF-8 JSON text). */
  payload: z.string().min(1),
  /**
   * True when the relay holds the HTTP request open for a reply (an authcrypted POST). A worker must
   * then answer it: with the reply (`send`) or with "no reply" (`disconnect`), so nothing waits for
   * the relay's timeout. Always false for WebSocket messages, whose socket stays open anyway.
   */
  replyExpected: z.boolean(),
  headers: forwardedHeadersSchema,
  /**
   * Its place in the order relays acknowledged messages in, deployment-wide (a Redis counter read
   * before the job was stored). Workers queue each wallet's messages in this order; `barrier` says
   * that deliveries of later messages wait until this one is processed (it may be for any wallet: a
   * forward). Absent on jobs from relays that predate it: those queue after what is registered.
   */
  order: z
    .object({
      seq: z.number().int().positive(),
      barrier: z.boolean(),
    })
    .optional(),
})
export type InboundMessageJob = z.infer<typeof inboundMessageJobSchema>

/**
 * Stored by earlier relays for every new socket; relays no longer store it (nothing hangs on a socket
 * until its first message). Still accepted, so that workers take such jobs left in the queue during
 * an upgrade.
 */
export const socketOpenedJobSchema = z.object({
  ...socketRefShape,
  kind: z.literal('socket-opened'),
  at: z.number().int().nonnegative(),
  headers: forwardedHeadersSchema,
})
export type SocketOpenedJob = z.infer<typeof socketOpenedJobSchema>

export const socketClosedJobSchema = z.object({
  ...socketRefShape,
  kind: z.literal('socket-closed'),
  at: z.number().int().nonnegative(),
  /** WebSocket close code (1000, 1001, 1006 ...), absent for HTTP. */
  code: z.number().int().optional(),
  reason: z.string(),
})
export type SocketClosedJob = z.infer<typeof socketClosedJobSchema>

export const inboundJobSchema = z.discriminatedUnion('kind', [
  inboundMessageJobSchema,
  socketOpenedJobSchema,
  socketClosedJobSchema,
])
export type InboundJob = z.infer<typeof inboundJobSchema>
export type InboundJobKind = InboundJob['kind']
