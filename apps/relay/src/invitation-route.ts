import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { RedisKeys } from '@mediator/contracts'
import { sendProblem } from './problem.js'

const publishedInvitationSchema = z.object({ url: z.string().url(), invitation: z.record(z.string(), z.unknown()) })

/**
 * `GET /invitation` on the public port: the mediator's reusable invitation, which the workers publish
 * in Redis. JSON by default, the invitation URL as text with `?format=url`. Cached briefly, so a QR
 * page polled by many clients does not turn into Redis traffic.
 */
export function registerInvitationRoute(
  app: FastifyInstance,
  deps: { redis: Redis; keys: RedisKeys; cacheMs?: number },
): void {
  const cacheMs = deps.cacheMs ?? 5_000
  let cached: { value: z.infer<typeof publishedInvitationSchema>; at: number } | undefined

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
    if (request.query.format === 'url') return reply.type('text/plain; charset=utf-8').send(cached.value.url)
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
