import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { RedisKeys } from '@mediator/contracts'
import { INVITATION_PAGE_CSP, invitationFormat, renderInvitationPage } from '@mediator/invitation-page'
import { sendProblem } from './problem.js'

const publishedInvitationSchema = z.object({ url: z.string().url(), invitation: z.record(z.string(), z.unknown()) })

/**
 * `GET /invitation` on the public port: the mediator's reusable invitation, which the workers publish
 * in Redis. JSON by default, the invitation URL as text with `?format=url`, and a page with the QR
 * code for a browser (`Accept: text/html`, or `?format=html`). Cached briefly, so a QR
 * page polled by many clients does not turn into Redis traffic.
 */
export function registerInvitationRoute(
  app: FastifyInstance,
  deps: { redis: Redis; keys: RedisKeys; cacheMs?: number },
): void {
  const cacheMs = deps.cacheMs ?? 5_000
  let cached: { value: z.infer<typeof publishedInvitationSchema>; at: number; page?: string } | undefined

  app.get<{ Querystring: { format?: string } }>('/invitation', async (request, reply) => {
    if (!cached || Date.now() - cached.at > cacheMs) {
      let raw: string | null
      try {
        raw = await deps.redis.get(deps.keys.invitation)
      } catch {
        return sendProblem(reply, 503, 'Service Unavailable', 'the invitation store is unavailable; retry later')
      }
      const parsed = raw === null ? undefined : publishedInvitationSchema.safeParse(safeJson(raw))
      if (!parsed?.success) {
        return sendProblem(reply, 503, 'Service Unavailable', 'no mediator worker has published the invitation yet')
      }
      cached = { value: parsed.data, at: Date.now() }
    }
    const format = invitationFormat(request.query.format, request.headers.accept)
    // Varies with Accept, so a cache in front must not hand a browser's page to a wallet.
    reply.header('vary', 'accept')
    if (format === 'url') return reply.type('text/plain; charset=utf-8').send(cached.value.url)
    if (format === 'html') {
      cached.page ??= await renderInvitationPage({ url: cached.value.url, jsonHref: '/invitation?format=json' })
      return reply.type('text/html; charset=utf-8').header('content-security-policy', INVITATION_PAGE_CSP).send(cached.page)
    }
    return reply.send(cached.value)
  })
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
