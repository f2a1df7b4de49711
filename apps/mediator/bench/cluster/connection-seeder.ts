import { randomUUID } from 'node:crypto'
import {
  DidRepository,
  DidsApi,
  Kms,
  PeerDidNumAlgo,
  TypedArrayEncoder,
  createPeerDidDocumentFromServices,
  didDocumentToNumAlgo4Did,
  getAlternativeDidsForPeerDid,
  type AgentContext,
  type ResolvedDidCommService,
} from '@credo-ts/core'
import {
  DidCommConnectionRecord,
  DidCommConnectionRepository,
  DidCommDidExchangeRole,
  DidCommDidExchangeState,
  DidCommHandshakeProtocol,
  DidCommMediationRecord,
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
} from '@credo-ts/didcomm'
import sodium from 'sodium-native'
import { createCredoAgent, peerAgentDidcommOptions } from '@mediator/credo-runtime'
import { SodiumKeyManagementService } from '@mediator/kms'
import { PostgresStorageService, RECORDS_TABLE } from '@mediator/storage-postgres'
import type { FleetConnection } from './load/protocol.js'
import { schemaPool } from './schema-pool.js'

const SEED_CONCURRENCY = 32

export interface SeedOptions {
  /** The mediator's database, its schema and KMS master key (what the workers are started with). */
  mediator: { databaseUrl: string; schema: string; masterKeyHex: string }
  /** The wallets' KMS (the load processes open the same schema) and a context for it. */
  walletKms: SodiumKeyManagementService
  walletCtx: AgentContext
  /** The mediator's routing key (from a connection set up through the protocol). */
  routingKey: string
  /** Relay endpoints the mediator's DID documents name, as in a DID exchange response. */
  endpoints: string[]
  count: number
  log: (text: string) => void
}

const ed25519 = { kty: 'OKP', crv: 'Ed25519' } as const

async function newKey(kms: SodiumKeyManagementService, ctx: AgentContext): Promise<Kms.PublicJwk<Kms.Ed25519PublicJwk>> {
  const { keyId, publicJwk } = await kms.createKey(ctx, { type: ed25519 })
  const jwk = Kms.PublicJwk.fromPublicJwk(publicJwk) as Kms.PublicJwk<Kms.Ed25519PublicJwk>
  jwk.keyId = keyId
  return jwk
}

/** A fresh Ed25519 public key (base58), a key a wallet would create for one of its contacts. */
export function newRecipientKey(): string {
  const pk = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const sk = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_keypair(pk, sk)
  return TypedArrayEncoder.toBase58(pk)
}

const base58Of = (jwk: Kms.PublicJwk<Kms.Ed25519PublicJwk>) => TypedArrayEncoder.toBase58(jwk.publicKey.publicKey)

/**
 * Mediated connections written straight into the mediator's store, as a deployment that has served
 * its wallets for a while holds them: for each, both parties' keys (the mediator's in its KMS, the
 * wallet's in the wallets' KMS), the two did:peer:4 records, a completed DID exchange connection and a
 * granted mediation with one recipient key. They are the records Credo writes when it answers a
 * DID exchange request and a mediation request and a keylist-update (the same classes and
 * repositories), only without the three round trips: through the protocol 100,000 connections take
 * hours on two cores, which is a measurement of onboarding, not of holding wallets. The records are
 * written by a Credo agent on the mediator's storage and KMS, so every worker finds them as its own.
 */
export async function seedConnections(options: SeedOptions): Promise<FleetConnection[]> {
  const { mediator, walletKms, walletCtx, log } = options
  const pool = schemaPool(mediator.databaseUrl, mediator.schema, 8)
  const kms = await SodiumKeyManagementService.create({ pool, masterKey: new Uint8Array(Buffer.from(mediator.masterKeyHex, 'hex')) })
  const storage = await PostgresStorageService.create({ pool })
  const agent = createCredoAgent({
    kms,
    storage,
    didcomm: { ...peerAgentDidcommOptions, endpoints: options.endpoints, transports: { inbound: [], outbound: [] } },
  })
  await agent.initialize()
  const ctx = agent.context
  const dids = ctx.resolve(DidsApi)
  const didRepository = ctx.resolve(DidRepository)
  const connections = ctx.resolve(DidCommConnectionRepository)
  const mediations = ctx.resolve(DidCommMediationRepository)
  const seeded: FleetConnection[] = []
  const started = performance.now()
  let next = 0
  const seedNext = async () => {
    while (next < options.count) {
      const i = next++
      const walletKey = await newKey(walletKms, walletCtx)
      const mediatorKey = await newKey(kms, ctx)
      // The key the wallet registered for its contacts (keylist-update): forwards go to it.
      const recipientKey = newRecipientKey()

      // The wallet's DID, as its DID exchange request carries it: no endpoint of its own.
      const theirServices: ResolvedDidCommService[] = [{ id: '#inline-0', serviceEndpoint: 'didcomm:transport/queue', recipientKeys: [walletKey], routingKeys: [] }]
      const { longFormDid: theirDid } = didDocumentToNumAlgo4Did(createPeerDidDocumentFromServices(theirServices, false).didDocument)
      await didRepository.storeReceivedDid(ctx, {
        did: theirDid,
        tags: { recipientKeyFingerprints: [walletKey.fingerprint], alternativeDids: getAlternativeDidsForPeerDid(theirDid) },
      })

      // The mediator's DID for this connection, created the way its DID exchange response creates it.
      const ourServices: ResolvedDidCommService[] = options.endpoints.map((endpoint, index) => ({
        id: `#inline-${index}`,
        serviceEndpoint: endpoint,
        recipientKeys: [mediatorKey],
        routingKeys: [],
      }))
      const { didDocument, keys } = createPeerDidDocumentFromServices(ourServices, true)
      const created = await dids.create({ method: 'peer', didDocument, options: { numAlgo: PeerDidNumAlgo.ShortFormAndLongForm, keys } })
      const ourDid = created.didState.did
      if (created.didState.state !== 'finished' || !ourDid) throw new Error(`seeding: our DID not created (${JSON.stringify(created.didState)})`)

      const label = `seeded-${i}`
      const connection = new DidCommConnectionRecord({
        protocol: DidCommHandshakeProtocol.DidExchange,
        role: DidCommDidExchangeRole.Responder,
        state: DidCommDidExchangeState.Completed,
        did: ourDid,
        theirDid,
        theirLabel: label,
        threadId: randomUUID(),
      })
      await connections.save(ctx, connection)
      await mediations.save(
        ctx,
        new DidCommMediationRecord({
          connectionId: connection.id,
          threadId: randomUUID(),
          role: DidCommMediationRole.Mediator,
          state: DidCommMediationState.Granted,
          recipientKeys: [recipientKey],
          routingKeys: [],
        }),
      )
      seeded[i] = {
        label,
        keyId: walletKey.keyId,
        publicKey: base58Of(walletKey),
        mediatorKey: base58Of(mediatorKey),
        routingKey: options.routingKey,
        recipientKey,
      }
      if ((i + 1) % 10_000 === 0) log(`${i + 1}/${options.count} connections seeded (${((performance.now() - started) / 1000).toFixed(0)} s)`)
    }
  }
  try {
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, seedNext))
    // What autovacuum does within a minute of such growth (the table's analyze threshold is 2%); the
    // sockets connect at once, and until the planner knows the table grew it filters every record of
    // a type instead of using the tag index.
    await pool.query(`ANALYZE ${RECORDS_TABLE}`)
  } finally {
    await agent.shutdown()
    kms.close()
    await pool.end()
  }
  return seeded
}
