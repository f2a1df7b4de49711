import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TypedArrayEncoder } from '@credo-ts/core'
import {
  DidCommHandshakeProtocol,
  DidCommMediationRequestMessage,
  DidCommTrustPingEventTypes,
  type TrustPingResponseReceivedEvent,
} from '@credo-ts/didcomm'
import { RECORDS_TABLE } from '@mediator/storage-postgres'
import { TestCluster } from '../support/cluster.js'
import { randomRecipientKey, startProtocolClient, type ProtocolClient } from '../protocols/support/protocol-client.js'
import { metricSum } from '../protocols/support/cluster-inspection.js'
import { KeylistQueryMessage, KeylistUpdateRequestMessage, type KeylistUpdateEntry } from '../../src/protocols/index.js'

const CM = 'https://didcomm.org/coordinate-mediation/1.0'

describe('coordinate-mediation 1.0 against a cluster with an allow list and two workers', () => {
  let cluster: TestCluster
  const clients: ProtocolClient[] = []

  async function connected(label: string, handshake = DidCommHandshakeProtocol.DidExchange) {
    const client = await startProtocolClient(label)
    clients.push(client)
    await client.connect(await cluster.invitationUrl(), handshake)
    return client
  }

  async function granted(label: string, handshake = DidCommHandshakeProtocol.DidExchange) {
    const client = await connected(label, handshake)
    const grant = await client.request(new DidCommMediationRequestMessage({}))
    expect(grant['@type']).toBe(`${CM}/mediate-grant`)
    return { client, grant }
  }

  const update = (client: ProtocolClient, updates: KeylistUpdateEntry[]) =>
    client.request(new KeylistUpdateRequestMessage({ updates }))

  const query = (client: ProtocolClient, paginate?: { limit?: number; offset?: number }) =>
    client.request(new KeylistQueryMessage(paginate ? { paginate } : {}))

  const keysOf = (keylist: Record<string, unknown>) => (keylist.keys as Array<{ recipient_key: string }>).map((k) => k.recipient_key)

  beforeAll(async () => {
    cluster = await TestCluster.start({
      label: 'proto_mediation',
      relays: 1,
      workers: 2,
      env: { MEDIATION_POLICY: 'allow-list', MEDIATION_ALLOW_LIST: 'alice,carol,dave,erin,frank' },
    })
  })
  afterAll(async () => {
    for (const client of clients) await client.close()
    await cluster?.stop()
  })

  it('grants an allowed wallet with the public endpoint and the routing keys, again on a repeated request', async () => {
    const { client, grant } = await granted('alice')
    expect(grant.endpoint).toBe(cluster.publicHttpUrl)
    const routingKeys = grant.routing_keys as string[]
    expect(routingKeys).toHaveLength(1)
    expect(routingKeys[0]).toMatch(/^did:key:z6Mk/)

    const again = await client.request(new DidCommMediationRequestMessage({}))
    expect(again['@type']).toBe(`${CM}/mediate-grant`)
    expect(again.routing_keys).toEqual(routingKeys)
  })

  it('keeps one mediation record per connection when requests race on both workers', async () => {
    const countRecords = async () =>
      Number(
        (await cluster.db.pool.query(`SELECT count(*) AS n FROM ${RECORDS_TABLE} WHERE type = 'MediationRecord'`)).rows[0]
          ?.n,
      )
    const before = await countRecords()
    const client = await connected('alice')
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => client.request(new DidCommMediationRequestMessage({}))),
    )
    expect(answers.map((a) => a['@type'])).toEqual(Array(4).fill(`${CM}/mediate-grant`))
    expect(await countRecords()).toBe(before + 1)
    // ...and that one record serves keylist updates (Credo's lookup by connection would fail on two).
    const key = randomRecipientKey()
    const response = await update(client, [{ recipient_key: key.did, action: 'add' }])
    expect(response.updated).toEqual([{ recipient_key: key.did, action: 'add', result: 'success' }])
  })

  it('denies a wallet that is not on the allow list, and answers its keylist messages with a problem report', async () => {
    const client = await connected('mallory')
    const deny = await client.request(new DidCommMediationRequestMessage({}))
    expect(deny['@type']).toBe(`${CM}/mediate-deny`)

    const refused = await update(client, [{ recipient_key: randomRecipientKey().did, action: 'add' }])
    expect(refused['@type']).toMatch(/problem-report$/)
    expect(JSON.stringify(refused)).toContain('mediation_not_granted')
    const refusedQuery = await query(client)
    expect(refusedQuery['@type']).toMatch(/problem-report$/)
    expect(await metricSum(cluster, 'mediator_mediation_requests_total', 'outcome="denied"')).toBeGreaterThanOrEqual(1)
  })

  it('keylist-update answers success, no_change and client_error entry by entry', async () => {
    const { client } = await granted('carol')
    const [k1, k2, k3, k4] = [randomRecipientKey(), randomRecipientKey(), randomRecipientKey(), randomRecipientKey()]
    const notOnCurve = new Uint8Array(32)
    notOnCurve[0] = 2
    const updates = [
      { recipient_key: k1.did, action: 'add' },
      { recipient_key: k2.base58, action: 'add' },
      { recipient_key: `${k1.did}#${k1.did.slice('did:key:'.length)}`, action: 'add' },
      { recipient_key: k3.did, action: 'remove' },
      { recipient_key: 'not-a-key', action: 'add' },
      { recipient_key: k4.did, action: 'frobnicate' },
      { recipient_key: TypedArrayEncoder.toBase58(notOnCurve), action: 'add' },
      { recipient_key: k2.did, action: 'remove' },
    ]
    const response = await update(client, updates)
    expect(response['@type'], JSON.stringify(response)).toBe(`${CM}/keylist-update-response`)
    expect(response.updated).toEqual([
      { ...updates[0], result: 'success' },
      { ...updates[1], result: 'success' },
      { ...updates[2], result: 'no_change' },
      { ...updates[3], result: 'no_change' },
      { ...updates[4], result: 'client_error' },
      { ...updates[5], result: 'client_error' },
      { ...updates[6], result: 'client_error' },
      { ...updates[7], result: 'success' },
    ])
    expect(keysOf(await query(client))).toEqual([k1.did])

    // A key another wallet holds is refused: two holders would make forwards to it unroutable.
    const alice = await granted('frank')
    const stolen = await update(alice.client, [{ recipient_key: k1.base58, action: 'add' }])
    expect(stolen.updated).toEqual([{ recipient_key: k1.base58, action: 'add', result: 'client_error' }])

    const malformed = await client.request(new KeylistUpdateRequestMessage({ updates: [] }))
    expect(malformed['@type']).toMatch(/problem-report$/)
  })

  it('keylist-query pages through the keys in the order they were added', async () => {
    const { client } = await granted('erin', DidCommHandshakeProtocol.Connections)
    const keys = Array.from({ length: 5 }, () => randomRecipientKey())
    for (const key of keys) await update(client, [{ recipient_key: key.did, action: 'add' }])

    const first = await query(client, { limit: 2, offset: 0 })
    expect(first['@type'], JSON.stringify(first)).toBe(`${CM}/keylist`)
    expect(keysOf(first)).toEqual([keys[0]?.did, keys[1]?.did])
    expect(first.pagination).toEqual({ count: 2, offset: 0, remaining: 3 })

    const last = await query(client, { limit: 2, offset: 4 })
    expect(keysOf(last)).toEqual([keys[4]?.did])
    expect(last.pagination).toEqual({ count: 1, offset: 4, remaining: 0 })

    const all = await query(client)
    expect(keysOf(all)).toEqual(keys.map((k) => k.did))
    expect(all.pagination).toEqual({ count: 5, offset: 0, remaining: 0 })

    const bad = await query(client, { limit: 0 })
    expect(bad['@type']).toMatch(/problem-report$/)
  })

  it('answers server_error when the mediation record cannot be stored, and stores nothing of that update', async () => {
    const { client } = await granted('carol')
    const poison = randomRecipientKey()
    const good = randomRecipientKey()
    // A real storage failure: Postgres refuses any write of a mediation record holding the poison key.
    await cluster.db.pool.query(`
      CREATE FUNCTION refuse_poison_key() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'MediationRecord' AND NEW.tags->'recipientKeys' ? '${poison.base58}' THEN
          RAISE EXCEPTION 'disk full (simulated by a trigger)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison_key BEFORE UPDATE ON ${RECORDS_TABLE}
        FOR EACH ROW EXECUTE FUNCTION refuse_poison_key();
    `)
    try {
      const response = await update(client, [
        { recipient_key: good.did, action: 'add' },
        { recipient_key: poison.did, action: 'add' },
        { recipient_key: 'nonsense', action: 'add' },
      ])
      expect(response.updated).toEqual([
        { recipient_key: good.did, action: 'add', result: 'server_error' },
        { recipient_key: poison.did, action: 'add', result: 'server_error' },
        { recipient_key: 'nonsense', action: 'add', result: 'client_error' },
      ])
    } finally {
      await cluster.db.pool.query(`DROP TRIGGER refuse_poison_key ON ${RECORDS_TABLE}; DROP FUNCTION refuse_poison_key();`)
    }
    expect(keysOf(await query(client))).toEqual([])
    const retried = await update(client, [{ recipient_key: good.did, action: 'add' }])
    expect(retried.updated).toEqual([{ recipient_key: good.did, action: 'add', result: 'success' }])
  })

  it('loses no key when many keylist updates for one wallet run at once on two workers', async () => {
    const { client } = await granted('dave')
    const before = new Set(keysOf(await query(client)))
    const batches = Array.from({ length: 16 }, () => [randomRecipientKey(), randomRecipientKey()])
    const responses = await Promise.all(
      batches.map((batch) => update(client, batch.map((key) => ({ recipient_key: key.did, action: 'add' })))),
    )
    for (const response of responses) {
      expect((response.updated as Array<{ result: string }>).map((u) => u.result)).toEqual(['success', 'success'])
    }
    const stored = new Set(keysOf(await query(client)))
    for (const key of batches.flat()) expect(stored.has(key.did), key.did).toBe(true)
    expect(stored.size).toBe(before.size + 32)
    // How often the optimistic write lost a race and was redone (depends on timing, so only shown).
    const conflicts = await metricSum(cluster, 'mediator_keylist_update_conflict_retries_total')
    console.info(`keylist update conflict retries across the workers: ${conflicts}`)
  })

  it('never leaves a key with two wallets when both add it at the same instant on two workers', async () => {
    const wallets = [await granted('erin'), await granted('frank')]
    const keys = Array.from({ length: 12 }, () => randomRecipientKey())
    const told = await Promise.all(
      keys.map(async (key) => {
        const responses = await Promise.all(wallets.map((w) => update(w.client, [{ recipient_key: key.did, action: 'add' }])))
        return responses.map((r) => (r.updated as Array<{ result: string }>)[0]?.result)
      }),
    )
    // What the wallets were told is what is stored, and no key has two holders.
    const stored = await Promise.all(wallets.map(async (w) => new Set(keysOf(await query(w.client)))))
    keys.forEach((key, i) => {
      const results = told[i] ?? []
      expect(results.filter((r) => r === 'success').length, JSON.stringify(results)).toBeLessThanOrEqual(1)
      wallets.forEach((_, w) => expect(stored[w]?.has(key.did), `${key.did} ${results[w]}`).toBe(results[w] === 'success'))
    })
    const { rows } = await cluster.db.pool.query<{ holders: number }>(
      `SELECT count(*)::int AS holders FROM ${RECORDS_TABLE}, jsonb_array_elements_text(tags->'recipientKeys') AS key
       WHERE type = 'MediationRecord' GROUP BY key ORDER BY holders DESC LIMIT 1`,
    )
    expect(rows[0]?.holders ?? 0).toBeLessThanOrEqual(1)
    const contested = await metricSum(cluster, 'mediator_keylist_keys_contested_total')
    console.info(`keys added by two wallets at once and given up after the write: ${contested}`)
  })

  it('a connections 1.0 wallet gets trust ping answers and discovers the mediator protocols', async () => {
    const { client } = await granted('alice', DidCommHandshakeProtocol.Connections)
    expect(client.connection.protocol).toBe(DidCommHandshakeProtocol.Connections)

    const responses: string[] = []
    client.agent.events.on<TrustPingResponseReceivedEvent>(
      DidCommTrustPingEventTypes.DidCommTrustPingResponseReceivedEvent,
      (event) => {
        responses.push(event.payload.message.threadId)
      },
    )
    const ping = await client.agent.didcomm.connections.sendPing(client.connection.id, { responseRequested: true })
    const deadline = Date.now() + 15_000
    while (!responses.includes(ping.id) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(responses).toContain(ping.id)

    for (const protocolVersion of ['v1', 'v2'] as const) {
      const { features } = await client.agent.didcomm.discovery.queryFeatures({
        connectionId: client.connection.id,
        protocolVersion,
        queries: [{ featureType: 'protocol', match: '*' }],
        awaitDisclosures: true,
        awaitDisclosuresTimeoutMs: 15_000,
      })
      const ids = (features ?? []).map((f) => f.id)
      expect(ids, protocolVersion).toEqual(
        expect.arrayContaining([
          'https://didcomm.org/coordinate-mediation/1.0',
          'https://didcomm.org/routing/1.0',
          'https://didcomm.org/messagepickup/1.0',
          'https://didcomm.org/messagepickup/2.0',
          'https://didcomm.org/trust_ping/1.0',
          'https://didcomm.org/discover-features/1.0',
          'https://didcomm.org/discover-features/2.0',
        ]),
      )
    }
  })
})
