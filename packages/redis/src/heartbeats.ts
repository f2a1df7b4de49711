import type { Redis } from 'ioredis'

/** One member of a heartbeat registry (relays, workers) as an operator sees it. */
export interface RegistryMember<A> {
  readonly announcement: A
  /** Time of its last beat (ms, its own clock), while its heartbeat key lives. */
  readonly lastBeatAt?: number
  /** Its heartbeat key still exists: it beat within the last few intervals. */
  readonly alive: boolean
}

/**
 * Every announcement of a registry hash with its heartbeat, dead members included (those that died
 * without withdrawing, until someone prunes them): one HGETALL and one pipelined GET per member.
 */
export async function readRegistry<A>(
  redis: Redis,
  hashKey: string,
  heartbeatKey: (id: string) => string,
  parse: (raw: string) => A | null,
): Promise<Array<RegistryMember<A>>> {
  const all = await redis.hgetall(hashKey)
  const ids = Object.keys(all).sort()
  if (ids.length === 0) return []
  const pipeline = redis.pipeline()
  for (const id of ids) pipeline.get(heartbeatKey(id))
  const beats = (await pipeline.exec()) ?? []
  const members: Array<RegistryMember<A>> = []
  ids.forEach((id, i) => {
    const announcement = parse(all[id] ?? '')
    if (!announcement) return
    const [error, beat] = beats[i] ?? [null, null]
    if (error) throw error
    const lastBeatAt = typeof beat === 'string' ? Number(beat) : undefined
    members.push({
      announcement,
      alive: typeof beat === 'string',
      ...(lastBeatAt !== undefined && Number.isFinite(lastBeatAt) ? { lastBeatAt } : {}),
    })
  })
  return members
}

/** Parses a JSON announcement with a schema; null for anything it does not accept. */
export function parseAnnouncement<A>(raw: string, schema: { safeParse(v: unknown): { success: true; data: A } | { success: false } }): A | null {
  try {
    const parsed = schema.safeParse(JSON.parse(raw))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

export function throwOnExecError(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new Error('Redis transaction aborted')
  for (const [err] of results) if (err) throw err
}
