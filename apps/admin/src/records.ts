import type pg from 'pg'
import { z } from 'zod'
import { buildFindStatement, RECORDS_TABLE } from '@mediator/storage-postgres'

/** The agent context the workers keep their records in (Credo's root agent). */
const ROOT_CONTEXT = 'default'
/** Credo 0.6.3's record types (`DidCommMediationRecord.type`, `DidCommConnectionRecord.type`). */
const MEDIATION_RECORD = { type: 'MediationRecord' }
const CONNECTION_RECORD = { type: 'ConnectionRecord' }

const mediationSchema = z.object({ connectionId: z.string().min(1), state: z.string().optional() })
const connectionSchema = z.object({ state: z.string().optional(), theirLabel: z.string().optional(), createdAt: z.string().optional() })

export interface MediationOfKey {
  readonly connectionId: string
  readonly state?: string
}

export interface ConnectionRecordSummary {
  readonly connectionId: string
  readonly state?: string
  readonly theirLabel?: string
  readonly createdAt?: string
}

/**
 * The mediator's mediation records that hold a recipient key (base58, as the keylist update stored
 * it): the same tag query the workers' forward path makes, read straight from the records table.
 */
export async function mediationsOfKey(pool: pg.Pool, base58: string): Promise<MediationOfKey[]> {
  const statement = buildFindStatement(ROOT_CONTEXT, MEDIATION_RECORD, { recipientKeys: [base58], role: 'MEDIATOR' })
  const { rows } = await pool.query<{ value: unknown }>({ text: statement.text, values: statement.values as unknown[] })
  return rows.flatMap((row) => {
    const parsed = mediationSchema.safeParse(row.value)
    return parsed.success ? [{ connectionId: parsed.data.connectionId, ...(parsed.data.state ? { state: parsed.data.state } : {}) }] : []
  })
}

export async function findConnection(pool: pg.Pool, connectionId: string): Promise<ConnectionRecordSummary | undefined> {
  const { rows } = await pool.query<{ value: unknown }>(
    `SELECT value FROM ${RECORDS_TABLE} WHERE context = $1 AND type = $2 AND id = $3`,
    [ROOT_CONTEXT, CONNECTION_RECORD.type, connectionId],
  )
  const row = rows[0]
  if (!row) return undefined
  const parsed = connectionSchema.safeParse(row.value)
  return { connectionId, ...(parsed.success ? parsed.data : {}) }
}
