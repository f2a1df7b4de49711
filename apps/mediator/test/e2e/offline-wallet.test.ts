import { describe, expect, it } from 'vitest'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * Guarantees 1 and 3: what a relay acknowledged for an offline wallet waits for it, and it gets all of
 * it, once each, when it comes back through another relay.
 */
describe('a wallet that was offline', () => {
  // A long lease: on a loaded machine a slow confirmation must not turn into a second delivery here.
  const scenario = useClusterScenario({ label: 'e2e_offline', relays: 2, workers: 1, env: { PICKUP_LEASE_MS: '60000' } })

  it('gets every message queued while it was away, once each, through another relay', async () => {
    const { cluster, probe, failWithLogs } = scenario
    const [relayA, relayB] = cluster.relays
    if (!relayA || !relayB) throw new Error('two relays expected')

    // Mediation and the live session over relay A only.
    cluster.balancer.setTargets([relayA.publicPort])
    const wallet = (scenario.wallet = await startWallet('offline'))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    const live = await waitUntil('the live session on relay A', async () => {
      const sessions = await probe.liveSessions()
      return sessions.length === 1 && sessions[0]?.relayId === relayA.relayId ? sessions[0] : undefined
    })
    cluster.balancer.setTargets([relayA.publicPort, relayB.publicPort])

    const sender = (scenario.sender = await startSender('offline'))
    const connection = await sender.connectTo(wallet)

    // Offline: the relay reports the closed socket and the live session ends.
    await wallet.goOffline()
    await waitUntil('the live session to end', async () => (await probe.liveSessions()).length === 0, {
      explain: () => probe.describe(),
    })

    // Every message acknowledged by a relay (both relays take some) is queued, none is delivered.
    const messages = Array.from({ length: 12 }, (_, i) => `while away ${i}`)
    for (const m of messages) await sender.agent.didcomm.basicMessages.sendMessage(connection.id, m)
    await waitUntil('the inbound jobs to be processed', () => probe.inboundIdle(), { explain: () => probe.describe() })
    const queued = await probe.queueStats(live.connectionId)
    expect(queued.pending + queued.inFlight).toBeGreaterThanOrEqual(messages.length)
    expect(wallet.inbox.received).toEqual([])

    // Relay A dies; the wallet comes back through the balancer, which can only reach relay B now.
    await cluster.killRelay(relayA)
    await wallet.comeOnline()
    await wallet.inbox.waitFor(messages, 60_000).catch(failWithLogs)
    const back = await waitUntil('the new live session', async () => (await probe.liveSessions())[0])
    expect(back.relayId).toBe(relayB.relayId)

    // Everything confirmed: the queue is empty, so nothing can arrive any more.
    await waitUntil('the queue to be empty', async () => (await probe.queueStats(live.connectionId)).pending === 0 &&
      (await probe.queueStats(live.connectionId)).inFlight === 0, { explain: () => probe.describe() }).catch(failWithLogs)
    for (const m of messages) expect(wallet.inbox.received.filter((r) => r === m), m).toHaveLength(1)
    // Each queued message came in one delivery and was confirmed; none came after its confirmation.
    const arrivals = wallet.tracker.arrivals()
    expect(arrivals.size, wallet.tracker.summary()).toBeGreaterThanOrEqual(messages.length)
    for (const [id, count] of arrivals) expect(count, `${id} (${wallet.tracker.contentOf(id)})`).toBe(1)
    expect(wallet.tracker.confirmedCount, wallet.tracker.summary()).toBeGreaterThan(0)
    expect(wallet.tracker.violations()).toEqual([])
    expect(await probe.deadLetters()).toEqual([])
  })
})
