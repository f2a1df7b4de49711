import type { Redis } from 'ioredis'
import type pg from 'pg'
import { DidCommHandshakeProtocol } from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import type { RedisKeys } from '@mediator/contracts'
import type { MediatorAgent } from '../agent/mediator-agent.js'

/** Fixed id of the generic record that remembers which out-of-band record is the mediator's invitation. */
const INVITATION_RECORD_ID = 'mediator-invitation'
/** Advisory lock key (any constant shared by all workers): "mediator invitation" in ASCII-ish. */
const INVITATION_LOCK_KEY = 0x6d656469

export interface MediatorInvitation {
  /** The invitation URL wallets scan (`?oob=...` on the first HTTP(S) endpoint). */
  url: string
  /** The out-of-band invitation message as JSON. */
  invitation: Record<string, unknown>
}

/**
 * The one reusable invitation every wallet uses to connect to the mediator. The first worker to start
 * creates it under a Postgres advisory lock (several workers start at once); every later start, on any
 * worker, finds the same one, so the QR code an operator printed stays valid across restarts.
 */
export async function ensureMediatorInvitation(opts: {
  agent: MediatorAgent
  pool: pg.Pool
  label: string
  logger: Logger
}): Promise<MediatorInvitation> {
  const { agent, pool, label, logger } = opts
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [INVITATION_LOCK_KEY])
    const existing = await agent.genericRecords.findById(INVITATION_RECORD_ID)
    const outOfBandId = existing?.content.outOfBandId
    if (typeof outOfBandId === 'string') {
      const record = await agent.didcomm.oob.findById(outOfBandId)
      if (record) return toMediatorInvitation(agent, record.outOfBandInvitation)
      logger.warn({ outOfBandId }, 'mediator invitation record points to a missing out-of-band record; creating a new one')
      await agent.genericRecords.deleteById(INVITATION_RECORD_ID)
    }
    const created = await agent.didcomm.oob.createInvitation({
      label,
      multiUseInvitation: true,
      handshakeProtocols: [DidCommHandshakeProtocol.DidExchange, DidCommHandshakeProtocol.Connections],
    })
    await agent.genericRecords.save({ id: INVITATION_RECORD_ID, content: { outOfBandId: created.id } })
    logger.info({ outOfBandId: created.id }, 'mediator invitation created')
    return toMediatorInvitation(agent, created.outOfBandInvitation)
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [INVITATION_LOCK_KEY]).catch(() => undefined)
    client.release()
  }
}

/** Makes the invitation available to the relays, which serve it on their public port. */
export async function publishMediatorInvitation(redis: Redis, keys: RedisKeys, invitation: MediatorInvitation) {
  await redis.set(keys.invitation, JSON.stringify(invitation))
}

function toMediatorInvitation(
  agent: MediatorAgent,
  invitation: { toUrl(o: { domain: string }): string; toJSON(): Record<string, unknown> },
): MediatorInvitation {
  const endpoints = agent.didcomm.config.endpoints
  const domain = endpoints.find((e) => e.startsWith('http')) ?? endpoints[0]
  return { url: invitation.toUrl({ domain }), invitation: invitation.toJSON() }
}
