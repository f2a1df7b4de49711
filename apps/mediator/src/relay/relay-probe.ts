import type { RelayProbe } from '@mediator/redis'
import { z } from 'zod'

const healthSchema = z.object({ status: z.literal('ok'), relayId: z.string() })

/**
 * Asks a relay whose heartbeat expired whether it is still there: its internal `/healthz` must answer
 * within `timeoutMs` with its own relay id (a relay restarted on the same address is another relay; the
 * old one is dead). A relay starved by a reconnect storm beats late but answers, and its wallets keep
 * their live sessions; a killed one refuses the connection at once.
 */
export function createRelayProbe(timeoutMs = 3_000): RelayProbe {
  return async (announcement) => {
    const url = `${announcement.internalUrl.replace(/\/+$/, '')}/healthz`
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
      if (!response.ok) return false
      const health = healthSchema.safeParse(await response.json())
      return health.success && health.data.relayId === announcement.relayId
    } catch {
      return false
    }
  }
}
