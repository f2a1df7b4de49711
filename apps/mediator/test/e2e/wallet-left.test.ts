import { describe, expect, it } from 'vitest'
import { DidCommMediatorPickupStrategy } from '@credo-ts/didcomm'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * A wallet that leaves before its answer is written (its held HTTP request timed out, its socket
 * closed) is ordinary churn, not bad input: the request is processed, the answer that cannot be
 * queued (pickup answers never are) is dropped, and nothing lands in the dead letters, where it would
 * hide real poison and page an operator. What the wallet asked for stays queued for its next request.
 */
describe('a wallet that leaves before its answer', () => {
  const scenario = useClusterScenario({ label: 'e2e_left', relays: 1, workers: 1 })

  it('is not a dead letter, and its messages wait for its next request', async () => {
    const { cluster, probe } = scenario
    const worker = cluster.workers[0]
    if (!worker) throw new Error('no worker')
    const wallet = (scenario.wallet = await startWallet('left', DidCommMediatorPickupStrategy.PickUpV2))
    const { connection } = await wallet.obtainMediation(await cluster.invitationUrl())
    // Polling while the sender connects (its DID exchange reaches the wallet through the mediator).
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(undefined, DidCommMediatorPickupStrategy.PickUpV2)
    const sender = (scenario.sender = await startSender('left'))
    const toWallet = await sender.connectTo(wallet)
    await wallet.agent.didcomm.mediationRecipient.stopMessagePickup()
    await sender.agent.didcomm.basicMessages.sendMessage(toWallet.id, 'asked for while the worker was frozen')
    await waitUntil('the message to be queued', () => probe.inboundIdle())

    // The worker freezes; the wallet asks for a delivery over HTTP through a relay that answers held
    // requests "no reply" after 1 s; then the worker goes on, processes the request, and finds nobody
    // to answer.
    const impatient = await cluster.addRelay({ RETURN_ROUTE_TIMEOUT_MS: '1000' })
    cluster.balancer.setTargets([impatient.publicPort])
    const before = (await probe.inboundCounts()).completed
    worker.proc.child.kill('SIGSTOP')
    try {
      await wallet.agent.didcomm.messagePickup.pickupMessages({ connectionId: connection.id, protocolVersion: 'v2', batchSize: 10 })
      await waitUntil('the request to be stored', async () => (await probe.inboundCounts()).waiting > 0)
    } finally {
      worker.proc.child.kill('SIGCONT')
    }
    await waitUntil('the request to be processed', async () => {
      const c = await probe.inboundCounts()
      return c.waiting + c.active === 0 && c.completed + c.failed > before
    })
    expect(await probe.deadLetters()).toEqual([])
    cluster.balancer.setTargets(cluster.liveRelays().map((r) => r.publicPort))

    // Nothing was lost: the next pickup gets the message.
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(undefined, DidCommMediatorPickupStrategy.PickUpV2)
    await wallet.inbox.waitFor(['asked for while the worker was frozen'], 30_000)
    await wallet.agent.didcomm.mediationRecipient.stopMessagePickup()
  })
})
