import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DidDocumentRole, DidRecord, DidRepository, Kms, RecordDuplicateError, TypedArrayEncoder } from '@credo-ts/core'
import {
  DidCommConnectionRecord,
  DidCommConnectionRepository,
  DidCommConnectionService,
  DidCommDidExchangeRole,
  DidCommDidExchangeState,
} from '@credo-ts/didcomm'
import { createCredoAgent, peerAgentDidcommOptions } from '@mediator/credo-runtime'
import { RECORDS_TABLE } from '@mediator/storage-postgres'
import { CONNECTION_BY_KEYS_STATEMENT, ConnectionByKeysQuery, ConnectionsByKeys } from '../../src/pickup-fast/index.js'
import { agentPlatform, type AgentPlatform } from '../support/agent-platform.js'

const newKey = () => {
  const x = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string
  return Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: new Uint8Array(Buffer.from(x, 'base64url')) }) as Kms.PublicJwk<Kms.Ed25519PublicJwk>
}
const base58 = (key: Kms.PublicJwk<Kms.Ed25519PublicJwk>) => TypedArrayEncoder.toBase58((key.publicKey as { publicKey: Uint8Array }).publicKey)
const newDid = () => `did:example:${randomUUID()}`

/**
 * The worker's one-statement findByKeys answers what Credo's findByKeys answers, on the same records
 * in the same Postgres storage: the connection (ready or not), none, or two records where Credo
 * expects one (RecordDuplicateError).
 */
describe('ConnectionByKeysQuery', () => {
  let platform: AgentPlatform
  let agent: ReturnType<typeof createCredoAgent>
  let query: ConnectionByKeysQuery

  beforeAll(async () => {
    platform = await agentPlatform('conn_by_keys')
    agent = createCredoAgent({
      kms: platform.kms,
      storage: platform.storage,
      didcomm: { ...peerAgentDidcommOptions, transports: { inbound: [], outbound: [] } },
    })
    await agent.initialize()
    query = new ConnectionByKeysQuery(platform.db.pool)
  })
  afterAll(async () => {
    await agent?.shutdown()
    platform?.kms.close()
    await platform?.db.drop()
  })

  const ctx = () => agent.context
  const saveDid = (role: DidDocumentRole, key: Kms.PublicJwk<Kms.Ed25519PublicJwk>, did = newDid()) =>
    ctx()
      .dependencyManager.resolve(DidRepository)
      .save(ctx(), new DidRecord({ did, role, tags: { recipientKeyFingerprints: [key.fingerprint] } }))
      .then(() => did)
  const saveConnection = (props: Partial<ConstructorParameters<typeof DidCommConnectionRecord>[0]>) => {
    const record = new DidCommConnectionRecord({ role: DidCommDidExchangeRole.Responder, state: DidCommDidExchangeState.Completed, ...props })
    return ctx().dependencyManager.resolve(DidCommConnectionRepository).save(ctx(), record).then(() => record)
  }

  /** Both answers for the two keys, Credo's as `error` when it throws. */
  async function both(theirKey: Kms.PublicJwk<Kms.Ed25519PublicJwk>, ourKey: Kms.PublicJwk<Kms.Ed25519PublicJwk>) {
    const ours = await query.find(ctx().contextCorrelationId, theirKey.fingerprint, ourKey.fingerprint)
    const credo = await ctx()
      .dependencyManager.resolve(DidCommConnectionService)
      .findByKeys(ctx(), { senderKey: theirKey, recipientKey: ourKey })
      .then(
        (connection) => ({ connection }),
        (error: unknown) => ({ error }),
      )
    return { ours, credo }
  }

  /** A wallet's received DID and our created DID, with their keys. */
  async function pair() {
    const [theirKey, ourKey] = [newKey(), newKey()]
    const theirDid = await saveDid(DidDocumentRole.Received, theirKey)
    const ourDid = await saveDid(DidDocumentRole.Created, ourKey)
    return { theirKey, ourKey, theirDid, ourDid }
  }

  it('finds the ready connection of the two DIDs, by their current DIDs or their previous ones', async () => {
    const current = await pair()
    const renamedTheirs = await pair()
    const renamedOurs = await pair()
    const responded = await pair()
    const cases = [
      { keys: current, record: await saveConnection({ did: current.ourDid, theirDid: current.theirDid }) },
      { keys: renamedTheirs, record: await saveConnection({ did: renamedTheirs.ourDid, theirDid: newDid(), previousTheirDids: [renamedTheirs.theirDid] }) },
      { keys: renamedOurs, record: await saveConnection({ did: newDid(), theirDid: renamedOurs.theirDid, previousDids: [renamedOurs.ourDid] }) },
      { keys: responded, record: await saveConnection({ did: responded.ourDid, theirDid: responded.theirDid, state: DidCommDidExchangeState.ResponseSent }) },
    ]
    for (const { keys, record } of cases) {
      const { ours, credo } = await both(keys.theirKey, keys.ourKey)
      expect('connection' in credo && credo.connection?.id).toBe(record.id)
      expect(ours).toEqual({
        kind: 'found',
        connection: { connectionId: record.id, state: record.state, ourDid: record.did, theirDid: record.theirDid, ready: true },
      })
    }
  })

  it('tells a connection that is not ready, which Credo does not return', async () => {
    const keys = await pair()
    const record = await saveConnection({ did: keys.ourDid, theirDid: keys.theirDid, state: DidCommDidExchangeState.RequestReceived })
    const { ours, credo } = await both(keys.theirKey, keys.ourKey)
    expect(credo).toEqual({ connection: null })
    expect(ours).toMatchObject({ kind: 'found', connection: { connectionId: record.id, ready: false } })
  })

  it('finds none where Credo finds none: no received DID, no created DID, no connection between them', async () => {
    const noConnection = await pair()
    const onlyOurs = await pair()
    const cases = [
      [newKey(), newKey()],
      [noConnection.theirKey, noConnection.ourKey],
      [noConnection.theirKey, newKey()],
      [newKey(), onlyOurs.ourKey],
      // The roles matter: our created key as the sender, their received key as the recipient.
      [noConnection.ourKey, noConnection.theirKey],
    ] as const
    for (const [theirKey, ourKey] of cases) {
      const { ours, credo } = await both(theirKey, ourKey)
      expect(credo).toEqual({ connection: null })
      expect(ours).toEqual({ kind: 'none' })
    }
  })

  it('calls two records where Credo expects one ambiguous, where Credo throws RecordDuplicateError', async () => {
    const twoReceived = await pair()
    await saveDid(DidDocumentRole.Received, twoReceived.theirKey)
    const twoConnections = await pair()
    for (let i = 0; i < 2; i++) await saveConnection({ did: twoConnections.ourDid, theirDid: twoConnections.theirDid })
    for (const keys of [twoReceived, twoConnections]) {
      const { ours, credo } = await both(keys.theirKey, keys.ourKey)
      expect('error' in credo && credo.error).toBeInstanceOf(RecordDuplicateError)
      expect(ours).toEqual({ kind: 'ambiguous' })
    }
  })

  it('is what ConnectionsByKeys answers with, as it answers with Credo', async () => {
    const keys = await pair()
    const record = await saveConnection({ did: keys.ourDid, theirDid: keys.theirDid })
    const withQuery = new ConnectionsByKeys(ctx(), { query })
    const withCredo = new ConnectionsByKeys(ctx())
    const expected = { connectionId: record.id, ourDid: keys.ourDid, theirDid: keys.theirDid }
    expect(await withQuery.find(base58(keys.theirKey), base58(keys.ourKey))).toEqual(expected)
    expect(await withCredo.find(base58(keys.theirKey), base58(keys.ourKey))).toEqual(expected)
    expect(await withQuery.find(base58(newKey()), base58(keys.ourKey))).toBeUndefined()
  })

  it('uses the tag index for every step on a mediator-sized table, as a custom and as a generic plan, and keeps the generic one', async () => {
    const pool = platform.db.pool
    // Records of a real record's size (a did:peer:4 document runs to kilobytes): with rows this size, the
    // planner ANDed the tag index with the (context, type) index and read every connection record
    // (9 ms at 25,000 connections), until each step's containment was fenced off behind OFFSET 0.
    await pool.query(
      `INSERT INTO ${RECORDS_TABLE} (context, type, id, value, tags, created_at, updated_at)
       SELECT 'default', t.type, t.type || '-plan-' || (t.tags->>'did') || '-' || i, jsonb_build_object('pad', (SELECT string_agg(md5(i::text || t.type || g), '') FROM generate_series(1, 40) AS g)), t.tags, now(), now()
       FROM generate_series(1, 5000) AS i, LATERAL (VALUES
         ('DidRecord', jsonb_build_object('role', 'received', 'did', 'did:peer:their' || i, 'recipientKeyFingerprints', jsonb_build_array('z6MkT' || i))),
         ('DidRecord', jsonb_build_object('role', 'created', 'did', 'did:peer:our' || i, 'recipientKeyFingerprints', jsonb_build_array('z6MkO' || i))),
         ('ConnectionRecord', jsonb_build_object('state', 'completed', 'role', 'responder', 'did', 'did:peer:our' || i,
           'theirDid', 'did:peer:their' || i, 'previousDids', jsonb_build_array(), 'previousTheirDids', jsonb_build_array()))
       ) AS t(type, tags)`,
    )
    // As autovacuum would: fresh statistics, the GIN index's included.
    await pool.query(`VACUUM ANALYZE ${RECORDS_TABLE}`)
    interface PlanNode {
      'Node Type': string
      'Relation Name'?: string
      'Index Name'?: string
      Plans?: PlanNode[]
    }
    const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)]
    const client = await pool.connect()
    try {
      for (const mode of ['force_custom_plan', 'force_generic_plan']) {
        await client.query(`SET plan_cache_mode = ${mode}`)
        await client.query(`PREPARE by_keys(text, text, text) AS ${CONNECTION_BY_KEYS_STATEMENT.text}`)
        const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
          `EXPLAIN (FORMAT JSON) EXECUTE by_keys('default', '{"recipientKeyFingerprints":["z6MkT77"],"role":"received"}', '{"recipientKeyFingerprints":["z6MkO77"],"role":"created"}')`,
        )
        await client.query('DEALLOCATE by_keys')
        const nodes = flatten(rows[0]!['QUERY PLAN'][0]!.Plan)
        // What reads the table or an index (a Subquery Scan reads neither, a Bitmap Heap Scan only what its index found).
        const scans = nodes.filter((n) => n['Node Type'].includes('Scan') && !['Bitmap Heap Scan', 'Subquery Scan'].includes(n['Node Type']))
        // Two DID lookups and the connection's three containments, each on the tag index.
        expect(scans.map((n) => `${n['Node Type']} ${n['Index Name'] ?? n['Relation Name']}`), mode).toEqual(
          Array.from({ length: 5 }, () => `Bitmap Index Scan ${RECORDS_TABLE}_tags_idx`),
        )
      }
      // Left to itself, Postgres settles on the generic plan instead of planning every execution anew.
      await client.query('RESET plan_cache_mode')
      await client.query(`PREPARE by_keys(text, text, text) AS ${CONNECTION_BY_KEYS_STATEMENT.text}`)
      for (let i = 0; i < 8; i++) {
        await client.query(
          `EXECUTE by_keys('default', '{"recipientKeyFingerprints":["z6MkT${i}"],"role":"received"}', '{"recipientKeyFingerprints":["z6MkO${i}"],"role":"created"}')`,
        )
      }
      const { rows: plans } = await client.query<{ generic_plans: string }>(`SELECT generic_plans FROM pg_prepared_statements WHERE name = 'by_keys'`)
      await client.query('DEALLOCATE by_keys')
      expect(Number(plans[0]?.generic_plans)).toBeGreaterThan(0)
    } finally {
      await client.query('RESET plan_cache_mode')
      client.release()
    }
  })
})
