import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type pg from 'pg'
import { buildFindStatement, RECORDS_TABLE, type WqlQuery } from '../src/index.js'
import { getAllRecords, getRecord } from '../src/sql.js'
import { createStorageFixture, type StorageFixture } from './helpers.js'

interface PlanNode {
  'Node Type': string
  'Index Name'?: string
  Plans?: PlanNode[]
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)]
}

async function planOf(client: pg.PoolClient, text: string, values: unknown[]): Promise<PlanNode[]> {
  const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${text}`, values)
  return flatten(rows[0]!['QUERY PLAN'][0]!.Plan)
}

const TAGS_INDEX = `${RECORDS_TABLE}_tags_idx`
const ROWS_PER_TYPE = 4000

/** The tag queries a Credo 0.6.3 mediator makes for each forwarded message, as Credo writes them. */
const HOT_QUERIES: Array<[string, string, WqlQuery]> = [
  ['mediation record by recipient key', 'MediationRecord', { recipientKeys: ['did:key:z6MkR1234'] }],
  ['created DID by key fingerprint', 'DidRecord', { recipientKeyFingerprints: ['z6MkD1234'], role: 'created' }],
  ['DID by key fingerprint', 'DidRecord', { recipientKeyFingerprints: ['z6MkD1234'] }],
  ['mediator routing record by fingerprint', 'MediatorRoutingRecord', { routingKeyFingerprints: ['z6MkM77'] }],
  ['connection by their DID', 'ConnectionRecord', { theirDid: 'did:peer:their1234' }],
  [
    'connection by DIDs (findByDids)',
    'ConnectionRecord',
    {
      $or: [
        { did: 'did:peer:our1234', theirDid: 'did:peer:their1234' },
        { did: 'did:peer:our1234', previousTheirDids: ['did:peer:their1234'] },
        { previousDids: ['did:peer:our1234'], theirDid: 'did:peer:their1234' },
      ],
    },
  ],
  ['DID record by DID (findCreatedDid)', 'DidRecord', { $or: [{ alternativeDids: ['did:peer:x1234'] }, { did: 'did:peer:x1234' }], role: 'created' }],
]

describe('the hot-path statements can use the indexes', () => {
  let fx: StorageFixture
  let client: pg.PoolClient

  beforeAll(async () => {
    fx = await createStorageFixture('storage_explain')
    // A mediator-sized table: mediation, DID, connection and message records for many wallets, plus
    // a second tenant with the same shapes, so the planner has real statistics to choose from.
    await fx.schema.pool.query(
      `INSERT INTO ${RECORDS_TABLE} (context, type, id, value, tags, created_at, updated_at)
       SELECT ctx, t.type, t.type || '-' || i, '{}'::jsonb, t.tags, now(), now()
       FROM generate_series(1, $1::int) AS i,
            (VALUES ('default'), ('tenant-b')) AS c(ctx),
            LATERAL (VALUES
              ('MediationRecord', jsonb_build_object('role', 'MEDIATOR', 'state', 'granted',
                 'connectionId', 'conn' || i, 'recipientKeys', jsonb_build_array('did:key:z6MkR' || i))),
              ('DidRecord', jsonb_build_object('role', CASE WHEN i % 2 = 0 THEN 'created' ELSE 'received' END,
                 'did', 'did:peer:x' || i, 'method', 'peer', 'alternativeDids', jsonb_build_array(),
                 'recipientKeyFingerprints', jsonb_build_array('z6MkD' || i))),
              ('ConnectionRecord', jsonb_build_object('state', 'completed', 'role', 'responder',
                 'did', 'did:peer:our' || i, 'theirDid', 'did:peer:their' || i,
                 'previousDids', jsonb_build_array(), 'previousTheirDids', jsonb_build_array())),
              ('DidCommMessageRecord', jsonb_build_object('role', 'sender', 'threadId', 'thread' || i,
                 'messageName', 'ack', 'associatedRecordId', 'rec' || i)),
              ('MediatorRoutingRecord', jsonb_build_object('routingKeyFingerprints', jsonb_build_array('z6MkM' || (i % 100))))
            ) AS t(type, tags)`,
      [ROWS_PER_TYPE],
    )
    // VACUUM as autovacuum would: it also refreshes the GIN index's own statistics, without which
    // the planner prices a GIN scan as if the index were unknown and may prefer a (context, type) scan.
    await fx.schema.pool.query(`VACUUM ANALYZE ${RECORDS_TABLE}`)
    client = await fx.schema.pool.connect()
  })
  afterAll(async () => {
    client.release()
    await fx.drop()
  })

  it.each(HOT_QUERIES)('%s: the generated SQL is an index scan on the tags GIN index', async (_name, type, query) => {
    const statement = buildFindStatement('default', { type }, query)
    expect(statement.text).toContain('tags @> $3::jsonb')
    const nodes = await planOf(client, statement.text, statement.values)
    expect(nodes.map((n) => n['Index Name'])).toContain(TAGS_INDEX)
    expect(nodes.map((n) => n['Node Type'])).not.toContain('Seq Scan')
    // And it finds the record the query is about.
    const { rows } = await client.query(statement.text, statement.values)
    expect(rows.length).toBeGreaterThanOrEqual(1)
  })

  it('keeps using the index when Postgres switches the prepared statement to a generic plan', async () => {
    const [, type, query] = HOT_QUERIES[0]!
    const statement = buildFindStatement('default', { type }, query)
    await client.query('BEGIN')
    try {
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan')
      await client.query(`PREPARE generic_find AS ${statement.text}`)
      const literals = statement.values.map((v) => client.escapeLiteral(String(v))).join(', ')
      const nodes = await planOf(client, `EXECUTE generic_find(${literals})`, [])
      expect(nodes.map((n) => n['Index Name'])).toContain(TAGS_INDEX)
      expect(nodes.map((n) => n['Node Type'])).not.toContain('Seq Scan')
    } finally {
      await client.query('DEALLOCATE generic_find').catch(() => undefined)
      await client.query('ROLLBACK')
    }
  })

  it('getById is a primary-key lookup and getAll a (context, type) index scan', async () => {
    const byId = await planOf(client, getRecord.text, ['default', 'DidRecord', 'DidRecord-17'])
    expect(byId.map((n) => n['Index Name'])).toContain(`${RECORDS_TABLE}_pkey`)
    const all = await planOf(client, getAllRecords.text, ['default', 'MediatorRoutingRecord'])
    expect(all.map((n) => n['Node Type'])).not.toContain('Seq Scan')
    expect(all.some((n) => n['Index Name']?.startsWith(RECORDS_TABLE))).toBe(true)
  })
})

describe('records written since the last vacuum', () => {
  let fx: StorageFixture

  beforeAll(async () => {
    fx = await createStorageFixture('storage_pending')
    // A mediator onboarding wallets: thousands of DID records written, the statistics analyzed, and
    // no vacuum yet (autovacuum runs far less often than analyze on an append-mostly table).
    await fx.schema.pool.query(
      `INSERT INTO ${RECORDS_TABLE} (context, type, id, value, tags, created_at, updated_at)
       SELECT 'default', 'DidRecord', 'did-' || i, '{}'::jsonb,
              jsonb_build_object('role', 'received', 'did', 'did:peer:x' || i, 'recipientKeyFingerprints', jsonb_build_array('z6MkD' || i)),
              now(), now()
       FROM generate_series(1, 6000) AS i`,
    )
    await fx.schema.pool.query(`ANALYZE ${RECORDS_TABLE}`)
  })
  afterAll(async () => {
    await fx.drop()
  })

  it('are found through the tags index itself, not a pending list every lookup reads through', async () => {
    // With GIN's fastupdate, new entries wait in a pending list that every scan reads linearly until a
    // vacuum merges it: at a few thousand new records that is hundreds of pages, 1-2 ms per lookup,
    // on the queries every inbound message makes. Pages read are counted, not time.
    const statement = buildFindStatement('default', { type: 'DidRecord' }, { recipientKeyFingerprints: ['z6MkD4321'], role: 'received' })
    const { rows } = await fx.schema.pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode & { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }> }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.text}`,
      statement.values,
    )
    const nodes = flatten(rows[0]!['QUERY PLAN'][0]!.Plan) as Array<PlanNode & { 'Shared Hit Blocks': number; 'Shared Read Blocks': number }>
    const indexScan = nodes.find((n) => n['Index Name'] === TAGS_INDEX)
    expect(indexScan, JSON.stringify(nodes.map((n) => [n['Node Type'], n['Index Name']]))).toBeDefined()
    expect(indexScan!['Shared Hit Blocks'] + indexScan!['Shared Read Blocks']).toBeLessThan(20)
  })
})
