import { DidDocumentRole, DidRecord } from '@credo-ts/core'
import { DidCommConnectionRecord, DidCommDidExchangeState } from '@credo-ts/didcomm'
import { RECORDS_TABLE } from '@mediator/storage-postgres'
import type pg from 'pg'

/** The connection Credo's findByKeys would return, from its tags (which Credo derives from its fields). */
export interface ConnectionByKeys {
  connectionId: string
  state: string | undefined
  ourDid: string | undefined
  theirDid: string | undefined
  /** Credo's `isReady`. */
  ready: boolean
}

/**
 * What Credo's `findByKeys` does, told apart: a connection, none (`null` in Credo), or `ambiguous`
 * where one of its `findSingleByQuery` steps finds two records and Credo throws RecordDuplicateError.
 */
export type ConnectionByKeysResult = { kind: 'found'; connection: ConnectionByKeys } | { kind: 'none' } | { kind: 'ambiguous' }

const READY_STATES: readonly string[] = [DidCommDidExchangeState.Completed, DidCommDidExchangeState.ResponseSent]

/**
 * Credo's `DidCommConnectionService.findByKeys` (the received DID of the sender's key, the created DID
 * of the recipient's key, the connection between the two by `did`/`theirDid` or their previous ones)
 * as one statement on the Postgres storage, reading tags only: three round trips and three records
 * rebuilt by class-transformer become one round trip and no record, for the first message of every
 * wallet a worker has not seen lately (a whole reconnect storm of them).
 *
 * The conditions are the tag containments Credo's queries become (`wqlToSql`). Each step reads the
 * tag index and nothing else: its containment sits in a subquery behind `OFFSET 0`, which Postgres
 * does not flatten, and the record's context and type are checked on the few rows it returns. Left
 * to combine them, the planner ANDed the tag index's bitmap with the (context, type) index's, which
 * reads every connection record of the mediator: 9 ms of Postgres per lookup at 25,000 connections,
 * growing with each wallet (the estimate of a tag match it cannot see is 1 % of the table, so the
 * index over a quarter of it looked worth reading). The connection is looked up LATERAL to the two
 * DIDs, so its three containments are index conditions (a BitmapOr); a CTE joined the usual way made
 * Postgres filter every connection record instead. The tag parameters are read through `(SELECT $n)`,
 * which the planner cannot see into: with them as constants every custom plan looked cheaper than the
 * generic one, so Postgres planned the statement anew on every execution (0.4 ms of its CPU, more than
 * the execution); now the generic plan is kept after the first few.
 */
export const CONNECTION_BY_KEYS_STATEMENT = {
  name: 'mediator_connection_by_keys',
  text: `SELECT theirs.n AS theirs, ours.n AS ours, COALESCE(found.connections, '[]'::json) AS connections
    FROM (SELECT count(*)::int AS n, min(d.tags->>'did') AS did
            FROM (SELECT context, type, tags FROM ${RECORDS_TABLE} WHERE tags @> (SELECT $2::jsonb) OFFSET 0) d
            WHERE d.context = $1 AND d.type = '${DidRecord.type}') theirs,
         (SELECT count(*)::int AS n, min(d.tags->>'did') AS did
            FROM (SELECT context, type, tags FROM ${RECORDS_TABLE} WHERE tags @> (SELECT $3::jsonb) OFFSET 0) d
            WHERE d.context = $1 AND d.type = '${DidRecord.type}') ours,
         LATERAL (SELECT json_agg(json_build_object('id', c.id, 'tags', c.tags)) AS connections
            FROM (SELECT context, type, id, tags FROM ${RECORDS_TABLE}
                    WHERE theirs.n = 1 AND ours.n = 1
                      AND (tags @> jsonb_build_object('did', ours.did, 'theirDid', theirs.did)
                        OR tags @> jsonb_build_object('did', ours.did, 'previousTheirDids', jsonb_build_array(theirs.did))
                        OR tags @> jsonb_build_object('previousDids', jsonb_build_array(ours.did), 'theirDid', theirs.did))
                    OFFSET 0) c
            WHERE c.context = $1 AND c.type = '${DidCommConnectionRecord.type}') found`,
}

interface Row {
  theirs: number
  ours: number
  connections: Array<{ id: string; tags: Record<string, unknown> }>
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/** `findByKeys` in one round trip, by the keys' fingerprints (Credo's `PublicJwk.fingerprint`). */
export class ConnectionByKeysQuery {
  public constructor(private readonly pool: Pick<pg.Pool, 'query'>) {}

  public async find(contextCorrelationId: string, senderFingerprint: string, recipientFingerprint: string): Promise<ConnectionByKeysResult> {
    const tagsOf = (fingerprint: string, role: DidDocumentRole) => JSON.stringify({ recipientKeyFingerprints: [fingerprint], role })
    const { rows } = await this.pool.query<Row>({
      ...CONNECTION_BY_KEYS_STATEMENT,
      values: [contextCorrelationId, tagsOf(senderFingerprint, DidDocumentRole.Received), tagsOf(recipientFingerprint, DidDocumentRole.Created)],
    })
    const row = rows[0]
    if (!row) throw new Error('connection by keys: the statement returned no row')
    // In Credo's order: its received-DID step throws or returns null before the created-DID step runs.
    for (const count of [row.theirs, row.ours]) {
      if (count > 1) return { kind: 'ambiguous' }
      if (count === 0) return { kind: 'none' }
    }
    if (row.connections.length > 1) return { kind: 'ambiguous' }
    const found = row.connections[0]
    if (!found) return { kind: 'none' }
    const state = text(found.tags.state)
    return {
      kind: 'found',
      connection: {
        connectionId: found.id,
        state,
        ourDid: text(found.tags.did),
        theirDid: text(found.tags.theirDid),
        ready: state !== undefined && READY_STATES.includes(state),
      },
    }
  }
}
