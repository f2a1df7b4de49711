import { timingSafeEqual } from 'node:crypto'
import type { Queue } from 'bullmq'
import type { FastifyInstance } from 'fastify'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'

/** Who may open the queue UI: a Basic user and password, a bearer token, or both. */
export interface OpsUiAuth {
  readonly user: string
  readonly password?: string
  readonly token?: string
}

export const OPS_UI_PATH = '/ui'

/** Whether an Authorization header carries the configured token or user and password. */
export function isAuthorized(auth: OpsUiAuth, header: string | undefined): boolean {
  if (!header) return false
  const [scheme, value = ''] = header.split(' ', 2)
  if (scheme?.toLowerCase() === 'bearer' && auth.token !== undefined) return sameText(value, auth.token)
  if (scheme?.toLowerCase() === 'basic' && auth.password !== undefined) {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) return false
    // Both compared, always: which of the two was wrong must not show in the time taken.
    const userOk = sameText(decoded.slice(0, colon), auth.user)
    const passwordOk = sameText(decoded.slice(colon + 1), auth.password)
    return userOk && passwordOk
  }
  return false
}

function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Mounts bull-board (its UI and its JSON API) for the given queues under `/ui`, every route behind
 * the credentials: the board can retry and remove jobs, so it is an operator's tool, not a view.
 */
export function registerOpsUi(app: FastifyInstance, options: { queues: readonly Queue[]; auth: OpsUiAuth }): void {
  const { auth } = options
  void app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (isAuthorized(auth, request.headers.authorization)) return
      if (auth.password !== undefined) reply.header('www-authenticate', 'Basic realm="mediator operations", charset="UTF-8"')
      return reply.code(401).send({ error: 'unauthorized' })
    })
    const serverAdapter = new FastifyAdapter()
    serverAdapter.setBasePath(OPS_UI_PATH)
    createBullBoard({
      queues: options.queues.map((queue) => new BullMQAdapter(queue)),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Mediator queues' } },
    })
    await scope.register(serverAdapter.registerPlugin(), { prefix: OPS_UI_PATH })
  })
}
