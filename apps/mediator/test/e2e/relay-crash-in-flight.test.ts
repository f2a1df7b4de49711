import { describe, expect, it } from 'vitest'
import { DidCommMessageDeliveryV2Message } from '@credo-ts/didcomm'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * Guarantees 2 and 3 when a relay dies with a delivery in flight: the relay wrote it, the wallet never
 * confirmed it, and no socket-closed event will ever come (kill -9). The wallet reconnects elsewhere
 * at once, long before the message's lease runs out, and must still get it then, not at the next
 * message or the next reconnect.
 */
describe('a relay killed while a delivery is unconfirmed', () => {
  // The production lease: waiting it out is not an acceptable way to get the message back.
  const scenario = useClusterScenario({ label: 'e2e_inflight', relays: 2, workers: 1, env: { PICKUP_LEASE_MS: '60000' } })

  it('redelivers it as soon as the wallet is back on another relay', async () => {
    const { cluster, probe } = scenario
    const wallet = (scenario.wallet = await startWallet('inflight'))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    const live = await waitUntil('the wallet live session', async () => (await probe.liveSessions())[0])
    const walletRelay = cluster.relays.find((r) => r.relayId === live.relayId)
    if (!walletRelay) throw new Error('no relay holds the wallet socket')
    const sender = (scenario.sender = await startSender('inflight'))
    const connection = await sender.connectTo(wallet)
    // The next delivery is lost on its way: the wallet reads it but never processes or confirms it,
    // as when the relay dies with the frame still in its buffers.
    let dropDeliveries = true
    wallet.agent.didcomm.registerMessageHandlerMiddleware(async (context, next) => {
      if (dropDeliveries && context.message instanceof DidCommMessageDeliveryV2Message) return
      await next()
    })
    const before = wallet.tracker.deliveries.length
    await sender.agent.didcomm.basicMessages.sendMessage(connection.id, 'in flight when the relay died')
    await waitUntil('the delivery to reach the wallet', () => wallet.tracker.deliveries.length > before)
    const stats = await probe.queueStats(live.connectionId)
    if (stats.inFlight < 1) throw new Error(`expected the message in flight, got ${JSON.stringify(stats)}`)

    // The relay dies without a word; the wallet reconnects through the balancer to the other one.
    dropDeliveries = false
    await cluster.killRelay(walletRelay)
    await wallet.inbox.waitFor(['in flight when the relay died'], 30_000).catch(scenario.failWithLogs)
    await waitUntil('every queued message to be confirmed', async () => {
      const s = await probe.queueStats(live.connectionId)
      return s.pending + s.inFlight === 0
    }).catch(scenario.failWithLogs)
    expect(wallet.tracker.violations()).toEqual([])
  })
})
