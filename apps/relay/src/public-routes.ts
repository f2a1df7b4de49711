import { randomUUID } from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { INBOUND_JOB_VERSION } from '@mediator/contracts'
import type { InboundOrder, InboundQueue } from '@mediator/redis'
import type { Logger } from '@mediator/config'
import type { RelayConfig } from './config.js'
import type { RelayMetrics } from './metrics.js'
import type { HeldRequests } from './held-requests.js'
import { inspectEnvelope } from './envelope.js'
import { pickHeaders } from './headers.js'
import { sendProblem } from './problem.js'
import { storeMessage } from './enqueue-retry.js'

export const DIDCOMM_CONTENT_TYPES = [
  'application/didcomm-envelope-enc',
  'application/ssi-agent-wire',
  'application/json',
] as const

/** The content type of a reply written to a held request. */
export const REPLY_CONTENT_TYPE = 'application/didcomm-envelope-enc'

interface PublicRoutesDeps {
  config: RelayConfig
  queue: InboundQueue
  order: InboundOrder
  metrics: RelayMetrics
  held: HeldRequests
  logger: Logger
}

/** HTTP POST of DIDComm envelopes: 202 once stored, or held for the reply when authcrypted. */
export function registerPublicRoutes(app: FastifyInstance, deps: PublicRoutesDeps): void {
  const { config, queue, order, metrics, held, logger } = deps

  app.removeAllContentTypeParsers()
  // Kept as bytes: the relay checks UTF-8 itself instead of letting a decoder substitute characters.
  app.addContentTypeParser([...DIDCOMM_CONTENT_TYPES], { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    const status = err.statusCode ?? 500
    if (status === 413) {
      metrics.rejected.inc({ transport: 'http', reason: 'too_large' })
      return sendProblem(reply, 413, 'Payload Too Large', `the body exceeds ${config.maxMessageBytes} bytes`)
    }
    if (status === 415) {
      metrics.rejected.inc({ transport: 'http', reason: 'bad_content_type' })
      return sendProblem(reply, 415, 'Unsupported Media Type', `use one of: ${DIDCOMM_CONTENT_TYPES.join(', ')}`)
    }
    if (status >= 400 && status < 500) {
      metrics.rejected.inc({ transport: 'http', reason: 'not_envelope' })
      return sendProblem(reply, status, 'Bad Request', err.message)
    }
    logger.error({ err }, 'public request failed')
    return sendProblem(reply, 500, 'Internal Server Error', 'the relay could not handle the request')
  })

  app.setNotFoundHandler((_request, reply) =>
    sendProblem(reply, 404, 'Not Found', 'POST DIDComm envelopes to / or open a WebSocket on / or /ws'),
  )

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body
    if (!Buffer.isBuffer(body) || body.length === 0) {
      metrics.rejected.inc({ transport: 'http', reason: 'not_envelope' })
      return sendProblem(reply, 400, 'Bad Request', 'the body is empty')
    }
    if (!isUtf8(body)) {
      metrics.rejected.inc({ transport: 'http', reason: 'invalid_utf8' })
      return sendProblem(reply, 400, 'Bad Request', 'the body is not UTF-8 JSON')
    }
    const payload = body.toString('utf8')
    const envelope = inspectEnvelope(payload)
    if (!envelope.ok) {
      metrics.rejected.inc({ transport: 'http', reason: 'not_envelope' })
      return sendProblem(reply, 400, 'Bad Request', envelope.problem)
    }

    const messageId = randomUUID()
    const requestId = randomUUID()
    const replyExpected = envelope.alg === 'Authcrypt'
    // Held before the add: a quick worker may answer before the add has even resolved here.
    const outcome = replyExpected ? held.hold(requestId, config.returnRouteTimeoutMs, reply.raw) : null
    if (replyExpected) metrics.heldRequests.inc()

    const started = process.hrtime.bigint()
    const job = {
      v: INBOUND_JOB_VERSION,
      kind: 'message',
      relayId: config.relayId,
      socketId: requestId,
      transport: 'http',
      messageId,
      receivedAt: Date.now(),
      payload,
      replyExpected,
      headers: pickHeaders(request.headers, config.forwardHeaders),
    } as const
    try {
      // The sender waits meanwhile: a Redis failover of a few seconds costs it time, not a 503 that
      // many senders (Credo's HTTP transport among them) take for delivered and drop.
      // The sender waits on the request: an add still on its way is waited for within the same bound.
      await storeMessage(order, queue, job, envelope.alg !== 'Authcrypt', { retryForMs: config.httpEnqueueRetryMs })
    } catch (err) {
      held.answer(requestId, { kind: 'shutdown' })
      metrics.rejected.inc({ transport: 'http', reason: 'redis_unavailable' })
      logger.warn({ messageId, err: (err as Error).message }, 'could not store inbound message')
      reply.header('retry-after', String(config.retryAfterSeconds))
      return sendProblem(reply, 503, 'Service Unavailable', 'the message store is unavailable; retry later')
    }
    metrics.jobAddSeconds.observe({ kind: 'message' }, Number(process.hrtime.bigint() - started) / 1e9)
    metrics.accepted.inc({ transport: 'http' })
    logger.debug({ messageId, socketId: requestId, replyExpected }, 'stored inbound message')

    if (!outcome) return reply.code(202).send()
    const result = await outcome
    if (result.kind === 'reply') return reply.code(200).type(result.contentType).send(result.body)
    return reply.code(202).send()
  }

  app.post('/', handler)
  app.post('/ws', handler)
}
