import { describe, expect, it } from 'vitest'
import { DidCommDidExchangeState, DidCommMediatorPickupStrategy, DidCommTrustPingMessage, DidCommMessageSender, DidCommOutboundMessageContext } from '@credo-ts/didcomm'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { startSender, startWallet, type TestWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * Implicit pickup: a Credo wallet on the `Implicit` strategy (no pickup protocol: it opens a WebSocket
 * and sends a trust ping with return route `all`, as AFJ's older wallets and ACA-Py-style clients
 * do) gets forwards live on that socket, and what was queued while it was offline when it comes back
 * through the other relay. A pickup v2 live wallet that sends a return-route message on its socket
 * keeps its pickup v2 deliveries.
 */
describe('implicit pickup', () => {
  const scenario = useClusterScenario({ label: 'e2e_implicit', relays: 2, workers: 2, env: { PICKUP_LEASE_MS: '60000' } })

  it('delivers live and, after a reconnect through the other relay, what was queued meanwhile', async () => {
    const { cluster, probe, failWithLogs } = scenario
    const [relayA, relayB] = cluster.relays
    if (!relayA || !relayB) throw new Error('two relays expected')

    cluster.balancer.setTargets([relayA.publicPort])
    const wallet = (scenario.wallet = await startWallet('implicit', DidCommMediatorPickupStrategy.Implicit))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    const session = await waitUntil('the implicit session on relay A', async () => {
      const sessions = await probe.liveSessions()
      return sessions.length === 1 && sessions[0]?.relayId === relayA.relayId ? sessions[0] : undefined
    }, { explain: () => probe.describe() }).catch(failWithLogs)
    cluster.balancer.setTargets([relayA.publicPort, relayB.publicPort])

    // The sender's DID exchange with the wallet already reaches it through the implicit session.
    const sender = (scenario.sender = await startSender('implicit'))
    const connection = await sender.connectTo(wallet)
    await sender.agent.didcomm.basicMessages.sendMessage(connection.id, 'live')
    await wallet.inbox.waitFor(['live']).catch(failWithLogs)
    // The sender is connected once it has the wallet's response; its DID exchange `complete` may still
    // be on its way to the wallet. Arriving after the wallet left, it would be one more queued message.
    await waitUntil('the wallet to have the sender\'s DID exchange complete', async () => {
      const [mine] = await wallet.agent.didcomm.connections.findAllByQuery({ did: connection.theirDid })
      return mine?.state === DidCommDidExchangeState.Completed
    }).catch(failWithLogs)

    await wallet.goOffline()
    await waitUntil('the session to end', async () => (await probe.liveSessions()).length === 0, { explain: () => probe.describe() })
    const messages = Array.from({ length: 8 }, (_, i) => `while away ${i}`)
    for (const m of messages) await sender.agent.didcomm.basicMessages.sendMessage(connection.id, m)
    await waitUntil('the inbound jobs to be processed', () => probe.inboundIdle(), { explain: () => probe.describe() })
    const queued = await probe.queueStats(session.connectionId)
    expect(queued.pending).toBe(messages.length)
    expect(wallet.inbox.received).toEqual(['live'])

    // Back through relay B only, with nothing but a trust ping on a WebSocket.
    await cluster.killRelay(relayA)
    await wallet.comeOnline()
    await wallet.inbox.waitFor(messages, 60_000).catch(failWithLogs)
    const back = await waitUntil('the implicit session on relay B', async () => (await probe.liveSessions())[0])
    expect(back.relayId).toBe(relayB.relayId)
    // Written means removed: nothing stays queued, nothing is delivered twice.
    await waitUntil('the queue to be empty', async () => {
      const stats = await probe.queueStats(session.connectionId)
      return stats.pending === 0 && stats.inFlight === 0
    }, { explain: () => probe.describe() }).catch(failWithLogs)
    for (const m of ['live', ...messages]) expect(wallet.inbox.received.filter((r) => r === m), m).toHaveLength(1)
    expect(await probe.deadLetters()).toEqual([])
  })

  it('leaves a pickup v2 live wallet on pickup v2 when it sends a return-route message on its socket', async () => {
    const { cluster, probe, failWithLogs } = scenario
    const sessionsBefore = (await probe.liveSessions()).length
    const wallet: TestWallet = await startWallet('v2_with_ping')
    try {
      const { connection: toMediator, mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
      await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
      await waitUntil('the live session', async () => (await probe.liveSessions()).length === sessionsBefore + 1, { explain: () => probe.describe() })

      // A trust ping with return route all over its WebSocket, as an implicit wallet would send.
      const ping = new DidCommTrustPingMessage({ responseRequested: false })
      await wallet.agent.dependencyManager
        .resolve(DidCommMessageSender)
        .sendMessage(new DidCommOutboundMessageContext(ping, { agentContext: wallet.agent.context, connection: toMediator }), {
          transportPriority: { schemes: ['ws'], restrictive: true },
        })
      await waitUntil('the ping to be processed', () => probe.inboundIdle())

      const sender = await startSender('v2_with_ping')
      try {
        const connection = await sender.connectTo(wallet)
        const confirmedBefore = wallet.tracker.confirmedCount
        await sender.sendUntilAccepted(connection.id, 'still pickup v2')
        await wallet.inbox.waitFor(['still pickup v2']).catch(failWithLogs)
        // It came in a pickup v2 delivery that the wallet confirmed, not as a bare envelope.
        await waitUntil('the confirmation', () => wallet.tracker.confirmedCount > confirmedBefore, { explain: () => wallet.tracker.summary() })
      } finally {
        await sender.close()
      }
    } finally {
      await wallet.close()
    }
  })
})
