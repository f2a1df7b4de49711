import Fastify, { type FastifyInstance } from 'fastify'
import type { MediatorMetrics } from '../metrics.js'
import type { MediatorInvitation } from '../invitation/mediator-invitation.js'

export interface OpsServerOptions {
  host: string
  port: number
  metrics: MediatorMetrics
  /** Resolves when every dependency answers; rejects (with a reason) when one does not. */
  checkReady: () => Promise<void>
  /** Called before each scrape, to refresh gauges that are read from Redis. */
  refreshGauges: () => Promise<void>
  invitation: () => MediatorInvitation | undefined
}

/**
 * The worker's operations port: liveness, readiness, Prometheus metrics, and the invitation (also
 * served by the relays on the public port). Never exposed publicly.
 */
export function buildOpsServer(options: OpsServerOptions): FastifyInstance {
  const app = Fastify({ logger: false })
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    try {
      await options.checkReady()
      return { status: 'ready' }
    } catch (error) {
      return reply.code(503).send({ status: 'not-ready', reason: (error as Error).message })
    }
  })
  app.get('/metrics', async (_req, reply) => {
    await options.refreshGauges().catch(() => undefined)
    return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics())
  })
  app.get<{ Querystring: { format?: string } }>('/invitation', async (req, reply) => {
    const invitation = options.invitation()
    if (!invitation) return reply.code(503).send({ error: 'invitation not created yet' })
    if (req.query.format === 'url') return reply.type('text/plain').send(invitation.url)
    return invitation
  })
  return app
}
