import {
  didKeyToVerkey,
  getPublicJwkFromVerificationMethod,
  Kms,
  TypedArrayEncoder,
  type AgentContext,
} from '@credo-ts/core'
import {
  DidCommDocumentService,
  DidCommHttpOutboundTransport,
  DidCommMediationState,
  DidCommMediatorPickupStrategy,
  DidCommWsOutboundTransport,
} from '@credo-ts/didcomm'
import { createCredoAgent, peerAgentDidcommOptions } from '@mediator/credo-runtime'
import type { SodiumKeyManagementService } from '@mediator/kms'
import type { PostgresStorageService } from '@mediator/storage-postgres'
import { agentPlatform } from '../test/support/agent-platform.js'

/** What the load process needs of a wallet once Credo has set it up. */
export interface BenchWallet {
  label: string
  kms: SodiumKeyManagementService
  ctx: AgentContext
  /** The wallet's key on its connection with the mediator (it authcrypts pickup messages with it). */
  ourKey: { publicKey: string; keyId: string }
  /** The mediator's key on that connection (deliveries come from it). */
  mediatorKey: string
  /** A key the wallet registered with the mediator (keylist-update): forwards go `to` it. */
  recipientKey: string
  /** The mediator's routing key, from the wallet's own invitation (forwards are anoncrypted to it). */
  routingKey: string
  close(): Promise<void>
}

/** What a wallet's Credo agent stands on, and how to let go of it once the wallet is done. */
export interface WalletPlatform {
  kms: SodiumKeyManagementService
  storage: PostgresStorageService
  release(): Promise<void>
}

/** A schema and a KMS of the wallet's own. */
async function ownPlatform(label: string): Promise<WalletPlatform> {
  const { db, kms, storage } = await agentPlatform(`bench_${label}`)
  return {
    kms,
    storage,
    async release() {
      kms.close()
      await db.drop()
    },
  }
}

/**
 * A real Credo wallet does the protocol work: connection from the mediator's invitation, mediation
 * request and grant, and a keylist-update (by creating an invitation of its own, as a wallet does
 * for a new contact). Then the Credo agent stops; its KMS stays open so the benchmark's raw WebSocket
 * client can speak for the same keys.
 */
export async function setUpWallet(label: string, invitationUrl: string, platform?: WalletPlatform): Promise<BenchWallet> {
  const { kms, storage, release } = platform ?? (await ownPlatform(label))
  const agent = createCredoAgent({
    kms,
    storage,
    didcomm: {
      ...peerAgentDidcommOptions,
      transports: { inbound: [], outbound: [new DidCommWsOutboundTransport(), new DidCommHttpOutboundTransport()] },
      mediationRecipient: { mediatorPickupStrategy: DidCommMediatorPickupStrategy.None },
    },
  })
  await agent.initialize()
  try {
    const { connectionRecord } = await agent.didcomm.oob.receiveInvitationFromUrl(invitationUrl, { label })
    if (!connectionRecord) throw new Error('no connection from the mediator invitation')
    const connection = await agent.didcomm.connections.returnWhenIsConnected(connectionRecord.id, { timeoutMs: 30_000 })
    const mediation = await agent.didcomm.mediationRecipient.provision(connection)
    if (mediation.state !== DidCommMediationState.Granted) throw new Error(`mediation ${mediation.state}`)

    const invitation = await agent.didcomm.oob.createInvitation()
    const service = invitation.outOfBandInvitation.getInlineServices()[0]
    const recipientDidKey = service?.recipientKeys[0]
    const routingDidKey = service?.routingKeys?.[0]
    if (!recipientDidKey || !routingDidKey) throw new Error('the wallet invitation has no mediated service')

    if (!connection.did || !connection.theirDid) throw new Error('connection without DIDs')
    const { didDocument, keys } = await agent.dids.resolveCreatedDidDocumentWithKeys(connection.did)
    let ourKey: BenchWallet['ourKey'] | undefined
    for (const entry of didDocument.authentication ?? []) {
      const method = typeof entry === 'string' ? didDocument.dereferenceVerificationMethod(entry) : entry
      const jwk = getPublicJwkFromVerificationMethod(method)
      if (!jwk.is(Kms.Ed25519PublicJwk)) continue
      const keyId = keys?.find((k) => method.id.endsWith(k.didDocumentRelativeKeyId))?.kmsKeyId ?? jwk.legacyKeyId
      ourKey = { publicKey: TypedArrayEncoder.toBase58(jwk.publicKey.publicKey), keyId }
      break
    }
    const [mediatorService] = await agent.context
      .resolve(DidCommDocumentService)
      .resolveServicesFromDid(agent.context, connection.theirDid)
    const mediatorJwk = mediatorService?.recipientKeys[0]
    if (!ourKey || !mediatorJwk) throw new Error('cannot find the connection keys')

    return {
      label,
      kms,
      ctx: agent.context,
      ourKey,
      mediatorKey: TypedArrayEncoder.toBase58(mediatorJwk.publicKey.publicKey),
      recipientKey: didKeyToVerkey(recipientDidKey),
      routingKey: didKeyToVerkey(routingDidKey),
      close: release,
    }
  } finally {
    await agent.shutdown()
  }
}
