import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DidCommDidExchangeState,
  DidCommHandshakeProtocol,
  DidCommHttpOutboundTransport,
  DidCommTrustPingEventTypes,
  type TrustPingResponseReceivedEvent,
} from '@credo-ts/didcomm'
import { SodiumKeyManagementService } from '@mediator/kms'
import { PostgresStorageService } from '@mediator/storage-postgres'
import { createTestSchema, freePort, type TestSchema } from '@mediator/test-support'
import { createCredoAgent, HttpWsInboundTransport, peerAgentDidcommOptions } from '@mediator/credo-runtime'

/**
 * Proof that Credo 0.6.3 runs on our own pieces only: Node agent dependencies, the sodium KMS and the
 * Postgres storage. Two agents connect over a real loopback HTTP transport with an out-of-band
 * invitation and exchange a trust ping; one of them restarts on the same database and still has its
 * keys and connection.
 */
describe('Credo on our KMS and Postgres storage', () => {
  const masterKey = new Uint8Array(randomBytes(32))
  let aliceDb: TestSchema
  let bobDb: TestSchema

  beforeAll(async () => {
    aliceDb = await createTestSchema('credo_alice')
    bobDb = await createTestSchema('credo_bob')
  })
  afterAll(async () => {
    await aliceDb?.drop()
    await bobDb?.drop()
  })

  /** An agent keeps its endpoint across restarts, as a deployed one would. */
  async function startAgent(db: TestSchema, port: number) {
    const kms = await SodiumKeyManagementService.create({ pool: db.pool, masterKey })
    const storage = await PostgresStorageService.create({ pool: db.pool })
    await storage.provisionContext('default')
    const inbound = new HttpWsInboundTransport({ port })
    const agent = createCredoAgent({
      kms,
      storage,
      didcomm: {
        ...peerAgentDidcommOptions,
        endpoints: [`http://127.0.0.1:${port}`],
        transports: { inbound: [inbound], outbound: [new DidCommHttpOutboundTransport()] },
      },
    })
    await agent.initialize()
    const close = async () => {
      await agent.shutdown()
      kms.close()
    }
    return { agent, kms, close }
  }

  it('connects two agents, pings, and keeps keys and connection across a restart', async () => {
    const [alicePort, bobPort] = [await freePort(), await freePort()]
    const alice = await startAgent(aliceDb, alicePort)
    let bob = await startAgent(bobDb, bobPort)

    const invitation = await alice.agent.didcomm.oob.createInvitation({
      handshakeProtocols: [DidCommHandshakeProtocol.DidExchange],
    })
    const url = invitation.outOfBandInvitation.toUrl({ domain: 'https://example.org' })
    const { connectionRecord } = await bob.agent.didcomm.oob.receiveInvitationFromUrl(url, { label: 'bob' })
    expect(connectionRecord).toBeDefined()
    const bobConnection = await bob.agent.didcomm.connections.returnWhenIsConnected(connectionRecord!.id, {
      timeoutMs: 20_000,
    })
    expect(bobConnection.state).toBe(DidCommDidExchangeState.Completed)
    // Bob's did-exchange `complete` is sent without waiting; let it land before pinging, or Alice
    // sees the ping first (Credo then completes the connection on the ping and rejects `complete`).
    const aliceConnection = await alice.agent.didcomm.connections.returnWhenIsConnected(
      (await alice.agent.didcomm.connections.getAll())[0]!.id,
      { timeoutMs: 20_000 },
    )
    expect(aliceConnection.isReady).toBe(true)

    const ping = async (agent: typeof bob.agent, connectionId: string) => {
      const response = new Promise<TrustPingResponseReceivedEvent>((resolve) =>
        agent.events.on<TrustPingResponseReceivedEvent>(DidCommTrustPingEventTypes.DidCommTrustPingResponseReceivedEvent, resolve),
      )
      await agent.didcomm.connections.sendPing(connectionId, { responseRequested: true })
      return response
    }
    expect((await ping(bob.agent, bobConnection.id)).payload.message.type).toContain('trust_ping/1.0/ping_response')

    // Restart Bob on the same database: a new KMS instance must read the sealed keys back, and the
    // connection must still work in both directions.
    const didsBefore = (await bob.agent.dids.getCreatedDids({})).map((d) => d.did).sort()
    await bob.close()
    bob = await startAgent(bobDb, bobPort)
    expect((await bob.agent.dids.getCreatedDids({})).map((d) => d.did).sort()).toEqual(didsBefore)
    const [restored] = await bob.agent.didcomm.connections.findAllByQuery({ outOfBandId: connectionRecord!.outOfBandId })
    expect(restored?.state).toBe(DidCommDidExchangeState.Completed)
    // Alice's response is only readable if Bob's new KMS still holds the connection's keys.
    expect((await ping(bob.agent, restored!.id)).payload.message.type).toContain('trust_ping/1.0/ping_response')

    await bob.close()
    await alice.close()
  })
})
