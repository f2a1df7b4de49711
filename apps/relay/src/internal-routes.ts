import type { FastifyError, FastifyInstance } from 'fastify'
import { z } from 'zod'
import { isAllowedCloseCode, MAX_CLOSE_REASON_LENGTH, MAX_SOCKET_ID_LENGTH, SendStatus } from '@mediator/contracts'
import type { Logger } from '@mediator/config'
import type { RelayMetrics } from './metrics.js'
import type { HeldRequests } from './held-requests.js'
import type { RecentlyClosed } from './recently-closed.js'
import type { SocketWriter } from './socket-writer.js'
import type { WsGateway } from './ws-gateway.js'
import { CloseCode } from './ws-gateway.js'

interface InternalRoutesDeps {
  /** Named by /healthz, so a worker probing an address learns whether this relay is the one it asks for. */
  relayId: string
  gateway: WsGateway
  held: HeldRequests
  recentlyClosed: RecentlyClosed
  metrics: RelayMetrics
  writer: SocketWriter
  /** Checks `Authorization: Bearer <secret>`. */
  authorized(header: string | undefined): boolean
  logger: Logger
  isDraining: () => boolean
  redisAnswers: () => Promise<boolean>
}

/** Probes stay open so kubelet and load balancers need no secret; they reveal nothing. */
const UNAUTHENTICATED = new Set(['/healthz', '/readyz'])

const socketParamsSchema = z.object({ id: z.string().min(1).max(MAX_SOCKET_ID_LENGTH) })

const disconnectBodySchema = z
  .object({
    // 1000 or an application code; 1001/1008/1013 are ones a mediator may have reason to pick too.
    code: z
      .number()
      .int()
      .refine(isAllowedCloseCode, { message: 'code must be 1000, 1001, 1008, 1013 or 3000-4999' })
      .default(CloseCode.Normal),
    reason: z.string().max(MAX_CLOSE_REASON_LENGTH).default(''),
  })
  .strict()

const statusText: Record<number, string> = {
  200: 'written',
  404: 'unknown socket',
  410: 'gone',
  413: 'too large',
  503: 'unavailable',
}

/** The internal API: mediators write to sockets here; probes and metrics for the platform. */
export function registerInternalRoutes(app: FastifyInstance, deps: InternalRoutesDeps): void {
  const { gateway, held, recentlyClosed, metrics, writer, authorized, logger, isDraining } = deps

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? ''
    if (UNAUTHENTICATED.has(path)) return
    if (!authorized(request.headers.authorization)) {
      writer.count('auth', SendStatus.Unauthorized)
      return reply.code(SendStatus.Unauthorized).header('www-authenticate', 'Bearer').send({ status: 'unauthorized' })
    }
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500
    const op = request.url.endsWith('/send') ? 'send' : 'other'
    writer.count(op, status)
    if (status >= 500) logger.error({ err }, 'internal request failed')
    return reply.code(status).send({ status: statusText[status] ?? 'error', detail: err.message })
  })

  app.post('/sockets/:id/send', async (request, reply) => {
    const { id } = socketParamsSchema.parse(request.params)
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    if (body.length === 0) return reply.code(400).send({ status: 'error', detail: 'empty body' })
    const status = writer.send(id, body)
    return reply.code(status).send({ status: statusText[status] })
  })

  app.post('/sockets/:id/disconnect', async (request, reply) => {
    const { id } = socketParamsSchema.parse(request.params)
    let opts: z.infer<typeof disconnectBodySchema>
    try {
      const raw = Buffer.isBuffer(request.body) && request.body.length > 0 ? JSON.parse(request.body.toString('utf8')) : {}
      opts = disconnectBodySchema.parse(raw)
    } catch (err) {
      return reply.code(400).send({ status: 'error', detail: err instanceof Error ? err.message : 'bad body' })
    }
    const status = writer.disconnect(id, opts.code, opts.reason)
    return reply.code(status).send({ status: statusText[status] })
  })

  app.get('/healthz', async () => ({ status: 'ok', relayId: deps.relayId }))

  app.get('/readyz', async (_request, reply) => {
    if (isDraining()) return reply.code(503).send({ status: 'draining' })
    if (!(await deps.redisAnswers())) return reply.code(503).send({ status: 'redis unavailable' })
    // Out of the balancer's rotation until sockets close; the ones it holds stay.
    if (gateway.isFull()) return reply.code(503).send({ status: 'full' })
    return { status: 'ready' }
  })

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(text)
  })

  /** The relay's own memory, after a GC when the process runs with --expose-gc (used by the benchmark). */
  app.get('/debug/memory', async (request) => {
    const { gc } = z.object({ gc: z.enum(['0', '1']).default('0') }).parse(request.query)
    const collect = (globalThis as { gc?: () => void }).gc
    if (gc === '1' && collect) {
      collect()
      collect()
    }
    return {
      ...process.memoryUsage(),
      gcExposed: collect !== undefined,
      openSockets: gateway.size,
      heldRequests: held.size,
      recentlyClosed: recentlyClosed.size,
    }
  })
}
