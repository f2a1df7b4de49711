import Fastify, { type FastifyInstance } from 'fastify'
import type { Queue } from 'bullmq'
import { INVITATION_PAGE_CSP, invitationFormat, renderInvitationPage } from '@mediator/invitation-page'
import type { MediatorMetrics } from '../metrics.js'
import type { MediatorInvitation } from '../invitation/mediator-invitation.js'
import { registerOpsUi, type OpsUiAuth } from './ops-ui.js'

export interface OpsServerOptions {
  host: string
  port: number
  metrics: MediatorMetrics
  /** Resolves when every dependency answers; rejects (with a reason) when one does not. */
  checkReady: () => Promise<void>
  /** Called before each scrape, to refresh gauges that are read from Redis. */
  refreshGauges: () => Promise<void>
  invitation: () => MediatorInvitation | undefined
  /** The queue UI (`/ui`): mounted only with credentials, so an unset password never means an open UI. */
  ui?: { queues: readonly Queue[]; auth: OpsUiAuth }
}

/**
 * The worker's operations port: liveness, readiness, Prometheus metrics, the invitation (also
 * served by the relays on the public port) and, with credentials, the queue UI. Never exposed publicly.
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
    const format = invitationFormat(req.query.format, req.headers.accept)
    reply.header('vary', 'accept')
    if (format === 'url') return reply.type('text/plain').send(invitation.url)
    if (format === 'html') {
      const page = await renderInvitationPage({ url: invitation.url, jsonHref: '/invitation?format=json' })
      return reply.type('text/html; charset=utf-8').header('content-security-policy', INVITATION_PAGE_CSP).send(page)
    }
    return invitation
  })
  if (options.ui && (options.ui.auth.password !== undefined || options.ui.auth.token !== undefined)) registerOpsUi(app, options.ui)
  return app
}
