import {
  DidCommBasicMessageEventTypes,
  DidCommBasicMessageRole,
  DidCommHttpOutboundTransport,
  DidCommMediatorPickupStrategy,
  DidCommWsOutboundTransport,
  type DidCommBasicMessageStateChangedEvent,
} from '@credo-ts/didcomm'
import { createCredoAgent, HttpWsInboundTransport, peerAgentDidcommOptions } from '@mediator/credo-runtime'
import { request } from 'node:http'
import { freePort } from './ports.js'
import { agentPlatform } from './agent-platform.js'
import { DeliveryTracker } from './delivery-tracker.js'

/** Collects the basic messages an agent receives, so tests can wait for some. */
export class Inbox {
  public readonly received: string[] = []
  private waiters: Array<() => void> = []

  public push(content: string): void {
    this.received.push(content)
    for (const w of this.waiters.splice(0)) w()
  }

  /** Resolves once every expected message has arrived (in any order). */
  public async waitFor(expected: string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!expected.every((m) => this.received.includes(m))) {
      const left = deadline - Date.now()
      if (left <= 0) {
        const missing = expected.filter((m) => !this.received.includes(m))
        throw new Error(`missing ${missing.length} of ${expected.length} messages, e.g. ${missing.slice(0, 5).join(', ')}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000))
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }
}

/**
 * A mobile wallet as Credo runs it: no inbound transport, a mediator found through the mediator's
 * invitation, pickup v2 live mode over a WebSocket. Its records and keys live in its own schema, so
 * it can go offline (the agent shut down, its socket closed) and come back as a new agent.
 */
export async function startWallet(label: string, strategy = DidCommMediatorPickupStrategy.PickUpV2LiveMode) {
  const p = await agentPlatform(`wallet_${label}`)
  const inbox = new Inbox()
  const tracker = new DeliveryTracker()
  const open = async () => {
    const created = createCredoAgent({
      kms: p.kms,
      storage: p.storage,
      webSocketClass: tracker.wire.webSocketClass(),
      fetch: tracker.wire.fetch(),
      didcomm: {
        ...peerAgentDidcommOptions,
        transports: { inbound: [], outbound: [new DidCommWsOutboundTransport(), new DidCommHttpOutboundTransport()] },
        mediationRecipient: {
          mediatorPickupStrategy: strategy,
          mediatorPollingInterval: 500,
          baseMediatorReconnectionIntervalMs: 100,
          maximumMediatorReconnectionIntervalMs: 1_000,
        },
      },
    })
    await created.initialize()
    created.events.on<DidCommBasicMessageStateChangedEvent>(DidCommBasicMessageEventTypes.DidCommBasicMessageStateChanged, (e) => {
      if (e.payload.basicMessageRecord.role === DidCommBasicMessageRole.Receiver) inbox.push(e.payload.message.content)
    })
    tracker.attach(created)
    return created
  }
  let agent = await open()
  let online = true
  return {
    /** The wallet's current Credo agent (a new one after `comeOnline`). */
    get agent() {
      return agent
    },
    inbox,
    /** What the wallet saw of pickup v2 deliveries and confirmations. */
    tracker,
    db: p.db,
    /** Connects to the mediator through its invitation and asks for mediation; resolves when granted. */
    async obtainMediation(invitationUrl: string) {
      const { connectionRecord } = await agent.didcomm.oob.receiveInvitationFromUrl(invitationUrl, { label })
      if (!connectionRecord) throw new Error('no connection from the mediator invitation')
      const connection = await named('the wallet\'s connection to the mediator', () =>
        agent.didcomm.connections.returnWhenIsConnected(connectionRecord.id, { timeoutMs: 30_000 }),
      )
      const mediation = await named('the mediation grant', () => agent.didcomm.mediationRecipient.provision(connection))
      return { connection, mediation }
    },
    /** The app goes to the background: pickup stops and the agent shuts down, closing its socket. */
    async goOffline() {
      if (!online) return
      online = false
      await agent.didcomm.mediationRecipient.stopMessagePickup()
      await agent.shutdown()
    },
    /** The app comes back: a new agent on the same records and keys resumes pickup from its mediator. */
    async comeOnline() {
      if (online) return
      agent = await open()
      online = true
      try {
        await agent.didcomm.mediationRecipient.initiateMessagePickup()
      } catch (error) {
        // Credo waits at most 10 s for the first pickup to drain the queue before it turns live mode
        // on; a wallet back to a backlog of hundreds on a busy machine takes longer, and what is left
        // keeps coming anyway. Live mode must still be turned on, as a wallet app would retry it.
        if ((error as Error).name !== 'TimeoutError') throw error
        const mediator = await agent.didcomm.mediationRecipient.findDefaultMediator()
        if (!mediator) throw error
        await agent.didcomm.messagePickup.setLiveDeliveryMode({ connectionId: mediator.connectionId, liveDelivery: true, protocolVersion: 'v2' })
      }
    },
    async close() {
      // Pickup first: a polling wallet's next status-request would otherwise outlive its storage.
      if (online) await agent.didcomm.mediationRecipient.stopMessagePickup()
      if (online) await agent.shutdown()
      online = false
      p.kms.close()
      await p.db.drop()
    },
  }
}

/** Credo's own timeouts (rxjs) say nothing of what timed out: a failing test should. */
async function named<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (error) {
    throw new Error(`${what} failed: ${(error as Error).message}`, { cause: error })
  }
}

/**
 * Credo's HTTP transport takes any answer for delivered, a 503 included. A careful sender does not: a
 * message the mediator did not acknowledge (2xx) fails, so that it can be sent again.
 */
const fetchAcknowledgedOnly: typeof fetch = async (input, init) => {
  const response = await fetch(input, init)
  if (init?.method === 'POST' && !response.ok) {
    await response.body?.cancel()
    throw new Error(`not acknowledged: HTTP ${response.status}`)
  }
  return response
}

/**
 * fetchAcknowledgedOnly, but every POST on a TCP connection of its own, so that a balancer spreads
 * one sender's messages over every relay (a kept-alive connection stays on one).
 */
const postOnNewConnections: typeof fetch = async (input, init) => {
  if (init?.method !== 'POST') return fetchAcknowledgedOnly(input, init)
  const url = new URL(input instanceof Request ? input.url : String(input))
  const body = typeof init.body === 'string' ? init.body : Buffer.from(await new Response(init.body).arrayBuffer())
  const headers = Object.fromEntries(new Headers(init.headers).entries())
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
  if (status < 200 || status >= 300) throw new Error(`not acknowledged: HTTP ${status}`)
  return new Response(null, { status })
}

/**
 * Another agent with an HTTP endpoint of its own, sending to wallets through the mediator. With
 * `connectionPerMessage`, each message goes on a new TCP connection (through a balancer, to the
 * relays in turn).
 */
export async function startSender(label: string, options: { connectionPerMessage?: boolean } = {}) {
  const p = await agentPlatform(`sender_${label}`)
  const port = await freePort()
  const agent = createCredoAgent({
    kms: p.kms,
    storage: p.storage,
    fetch: options.connectionPerMessage ? postOnNewConnections : fetchAcknowledgedOnly,
    didcomm: {
      ...peerAgentDidcommOptions,
      endpoints: [`http://127.0.0.1:${port}`],
      transports: { inbound: [new HttpWsInboundTransport({ port })], outbound: [new DidCommHttpOutboundTransport()] },
    },
  })
  await agent.initialize()
  return {
    agent,
    db: p.db,
    /** Connects to a wallet through the wallet's own (mediated) invitation. */
    async connectTo(wallet: Awaited<ReturnType<typeof startWallet>>) {
      const invitation = await wallet.agent.didcomm.oob.createInvitation()
      const url = invitation.outOfBandInvitation.toUrl({ domain: 'https://wallet.example' })
      const { connectionRecord } = await agent.didcomm.oob.receiveInvitationFromUrl(url, { label })
      if (!connectionRecord) throw new Error('no connection from the wallet invitation')
      return named('the sender\'s connection to the wallet (through the mediator)', () =>
        agent.didcomm.connections.returnWhenIsConnected(connectionRecord.id, { timeoutMs: 30_000 }),
      )
    },
    /**
     * Sends a basic message the way a careful sender does: when the mediator did not acknowledge it
     * (the relay died mid-request, nothing answered, or it answered 503), it sends it again, until `timeoutMs`. Returns
     * how many attempts it took.
     */
    async sendUntilAccepted(connectionId: string, content: string, timeoutMs = 60_000): Promise<number> {
      const deadline = Date.now() + timeoutMs
      for (let attempt = 1; ; attempt++) {
        try {
          await agent.didcomm.basicMessages.sendMessage(connectionId, content)
          return attempt
        } catch (error) {
          if (Date.now() >= deadline) throw error
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1_000)))
        }
      }
    },
    async close() {
      await agent.shutdown()
      p.kms.close()
      await p.db.drop()
    },
  }
}

export type TestWallet = Awaited<ReturnType<typeof startWallet>>
export type TestSender = Awaited<ReturnType<typeof startSender>>
