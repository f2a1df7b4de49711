import { z } from 'zod'
import type { ClusterConnections } from '../connections.js'
import { AdminError } from '../errors.js'
import type { Output } from '../output.js'

const publishedSchema = z.object({ url: z.string().url(), invitation: z.record(z.string(), z.unknown()) })

/**
 * The mediator's invitation URL, as the workers published it in Redis (the first worker to start
 * creates it in Postgres; every worker publishes it on start, and the relays serve it from there).
 */
export async function invitationCommand(c: ClusterConnections, out: Output): Promise<void> {
  const raw = await c.redis.get(c.keys.invitation)
  if (raw === null) throw new AdminError(`no invitation published under prefix ${c.keys.prefix}: no worker has started there yet`)
  let published: z.infer<typeof publishedSchema>
  try {
    published = publishedSchema.parse(JSON.parse(raw))
  } catch {
    throw new AdminError(`the invitation under ${c.keys.invitation} is not what workers publish; start a worker to write it again`)
  }
  out.result(published, (p) => out.line(p.url))
}
