import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { DidKey, JsonTransformer, Kms, TypedArrayEncoder } from '@credo-ts/core'
import {
  DidCommEnvelopeService,
  DidCommHandshakeProtocol,
  DidCommHttpOutboundTransport,
  DidCommMessage,
  DidCommMessageSender,
  DidCommOutboundMessageContext,
  DidCommTrustPingMessage,
  DidCommWsOutboundTransport,
  type DidCommConnectionRecord,
} from '@credo-ts/didcomm'
import { createCredoAgent, peerAgentDidcommOptions } from '@mediator/credo-runtime'
import { agentPlatform } from '../../support/agent-platform.js'

export type PlainMessage = Record<string, unknown> & { '@type': string; '@id': string }

/** The protocols whose messages the client keeps for the test instead of letting Credo handle them. */
const capturedProtocols = [
  '/coordinate-mediation/1.0/',
  '/messagepickup/1.0/',
  '/messagepickup/2.0/',
  '/problem-report',
  '/notification/1.0/',
]

/** The thread a message answers; a problem report about another protocol's message names it as parent. */
export function threadOf(message: PlainMessage): string | undefined {
  const thread = message['~thread'] as { thid?: string; pthid?: string } | undefined
  return thread?.thid ?? thread?.pthid
}

/** A fresh Ed25519 public key (its private key is dropped): enough to be registered and routed to. */
export function randomRecipientKey() {
  const { x } = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  const publicJwk = Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: new Uint8Array(Buffer.from(x ?? '', 'base64url')) })
  return { publicJwk, base58: TypedArrayEncoder.toBase58(publicJwk.publicKey.publicKey), did: new DidKey(publicJwk).did }
}

/**
 * A Credo agent that talks to the mediator the way a wallet does (no inbound transport: answers come
 * back on the same HTTP request or WebSocket), but hands the mediator's coordinate-mediation, pickup
 * and problem-report messages to the test as plain JSON instead of processing them. Tests send
 * exactly the messages they want, including malformed ones, and see exactly what the mediator answers.
 */
export async function startProtocolClient(label: string) {
  const { db, kms, storage } = await agentPlatform(`pc_${label}`)
  const agent = createCredoAgent({
    kms,
    storage,
    didcomm: {
      ...peerAgentDidcommOptions,
      transports: { inbound: [], outbound: [new DidCommHttpOutboundTransport(), new DidCommWsOutboundTransport()] },
    },
  })
  await agent.initialize()

  const captured: PlainMessage[] = []
  let wake: Array<() => void> = []
  agent.didcomm.registerMessageHandlerMiddleware(async (context, next) => {
    const json = context.message.toJSON() as PlainMessage
    if (!capturedProtocols.some((p) => json['@type'].includes(p))) return next()
    captured.push(json)
    for (const w of wake.splice(0)) w()
  })

  let connection: DidCommConnectionRecord | undefined
  const sender = agent.dependencyManager.resolve(DidCommMessageSender)

  const client = {
    agent,
    db,
    captured,
    get connection(): DidCommConnectionRecord {
      if (!connection) throw new Error('not connected')
      return connection
    },

    /** Connects through the mediator's invitation, with DID exchange or (as old wallets) connections 1.0. */
    async connect(invitationUrl: string, handshake = DidCommHandshakeProtocol.DidExchange) {
      const invitation = await agent.didcomm.oob.parseInvitation(invitationUrl)
      // The mediator offers both; a wallet that knows only one picks only that one.
      const name = handshake === DidCommHandshakeProtocol.Connections ? '/connections/' : '/didexchange/'
      invitation.handshakeProtocols = (invitation.handshakeProtocols ?? []).filter((p) => p.includes(name))
      if (invitation.handshakeProtocols.length === 0) throw new Error(`the invitation does not offer ${handshake}`)
      const { connectionRecord } = await agent.didcomm.oob.receiveInvitation(invitation, { label })
      if (!connectionRecord) throw new Error('no connection from the invitation')
      connection = await agent.didcomm.connections.returnWhenIsConnected(connectionRecord.id, { timeoutMs: 30_000 })
      return connection
    },

    /** Sends over HTTP (the answer comes back on the request) or over a WebSocket kept open. */
    async send(message: DidCommMessage, options: { ws?: boolean } = {}) {
      const context = new DidCommOutboundMessageContext(message, { agentContext: agent.context, connection: client.connection })
      await sender.sendMessage(
        context,
        options.ws ? { transportPriority: { schemes: ['ws', 'wss'], restrictive: true } } : undefined,
      )
    },

    /** Waits for a captured message (and takes it out of the list). */
    async next(match: (m: PlainMessage) => boolean, what: string, timeoutMs = 20_000): Promise<PlainMessage> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const index = captured.findIndex(match)
        if (index >= 0) return captured.splice(index, 1)[0] as PlainMessage
        const left = deadline - Date.now()
        if (left <= 0) {
          throw new Error(`no ${what} within ${timeoutMs} ms; captured: ${JSON.stringify(captured) || 'nothing'}`)
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 500))
          wake.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    },

    /** Sends a message and waits for the answer on its thread. */
    async request(message: DidCommMessage, options: { ws?: boolean } = {}): Promise<PlainMessage> {
      await client.send(message, options)
      const thread = message.threadId
      return client.next((m) => {
        const t = m['~thread'] as { thid?: string; pthid?: string } | undefined
        return t?.thid === thread || t?.pthid === message.id
      }, `answer to ${message.type}`)
    },

    /**
     * Packs a forward by hand, under the given type (so the legacy did:sov prefix can be sent), for
     * `to` and anoncrypted to the mediator's routing key. The inner message is an anoncrypted trust
     * ping to `innerRecipient`: any envelope will do, the mediator never opens it.
     */
    async packForward(options: {
      type: string
      to: string
      innerRecipient: Kms.PublicJwk<Kms.Ed25519PublicJwk>
      mediatorKey: Kms.PublicJwk<Kms.Ed25519PublicJwk>
    }) {
      const envelopes = agent.dependencyManager.resolve(DidCommEnvelopeService)
      const inner = await envelopes.packMessage(agent.context, new DidCommTrustPingMessage({ responseRequested: false }), {
        recipientKeys: [options.innerRecipient],
        routingKeys: [],
        senderKey: null,
      })
      const forward = JsonTransformer.fromJSON(
        { '@type': options.type, '@id': `fwd-${randomBytes(8).toString('hex')}`, to: options.to, msg: inner },
        DidCommMessage,
      )
      const outer = await envelopes.packMessage(agent.context, forward, {
        recipientKeys: [options.mediatorKey],
        routingKeys: [],
        senderKey: null,
      })
      return { inner, outer }
    },

    async close() {
      wake = []
      await agent.shutdown()
      kms.close()
      await db.drop()
    },
  }
  return client
}

export type ProtocolClient = Awaited<ReturnType<typeof startProtocolClient>>

/** The mediator's first routing key, from a grant as the wallet received it. */
export function routingKeyOfGrant(grant: PlainMessage): Kms.PublicJwk<Kms.Ed25519PublicJwk> {
  const keys = grant.routing_keys as string[]
  const first = keys[0]
  if (!first) throw new Error('grant without routing keys')
  const jwk = first.startsWith('did:key:')
    ? DidKey.fromDid(first).publicJwk
    : Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(first) })
  if (!jwk.is(Kms.Ed25519PublicJwk)) throw new Error('routing key is not Ed25519')
  return jwk
}

/** POSTs an envelope to the public endpoint as another agent would; returns the HTTP status. */
export async function postEnvelope(url: string, envelope: unknown): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/didcomm-envelope-enc' },
    body: JSON.stringify(envelope),
  })
  await res.arrayBuffer()
  return res.status
}
