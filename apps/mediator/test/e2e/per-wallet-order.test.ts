import { describe, expect, it } from 'vitest'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * Per-wallet order: a sender sends one message after another (each once a relay acknowledged the one
 * before), spread over two relays, processed by two workers at full concurrency. The wallet gets them
 * in the order they were sent, whether it was offline while they came or live. The workers are frozen
 * while the messages come, so that they meet a backlog and process up to 64 of them at once, in
 * whatever order they finish (the shape of a burst, or of workers coming back). The order is read off
 * the wire (WebSocket frames, HTTP answers), not from Credo's handlers, which run concurrently.
 */
describe('per-wallet order across relays and workers', () => {
  const COUNT = 200
  const scenario = useClusterScenario({
    label: 'e2e_order',
    relays: 2,
    workers: 2,
    // A long lease: a slow confirmation on a loaded machine must not make a second delivery here.
    env: { PICKUP_LEASE_MS: '120000', WORKER_CONCURRENCY: '32' },
  })

  it(`delivers ${COUNT} messages sent one after another in the order they were sent, offline and live`, async () => {
    const { cluster, probe, failWithLogs } = scenario
    const wallet = (scenario.wallet = await startWallet('order'))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    await waitUntil('the wallet live session', async () => (await probe.liveSessions())[0])
    const sender = (scenario.sender = await startSender('order', { connectionPerMessage: true }))
    const connection = await sender.connectTo(wallet)
    const sendInOrder = async (label: string): Promise<string[]> => {
      const sent: string[] = []
      for (const w of cluster.workers) w.proc.child.kill('SIGSTOP')
      try {
        for (let i = 0; i < COUNT; i++) {
          const content = `${label} ${i}`
          // Resolves once a relay acknowledged it (202): the next one is sent after that.
          await sender.agent.didcomm.basicMessages.sendMessage(connection.id, content)
          sent.push(content)
        }
      } finally {
        for (const w of cluster.workers) w.proc.child.kill('SIGCONT')
      }
      return sent
    }
    const arrived = (label: string) => wallet.tracker.contentsInArrivalOrder().filter((c) => c.startsWith(`${label} `))

    // Offline: everything waits in the queue, then arrives when the wallet comes back.
    await wallet.goOffline()
    await waitUntil('the live session to end', async () => (await probe.liveSessions()).length === 0)
    const whileAway = await sendInOrder('away')
    await waitUntil('the inbound jobs to be processed', () => probe.inboundIdle(), { timeoutMs: 60_000 })
    await wallet.comeOnline()
    await wallet.inbox.waitFor(whileAway, 120_000).catch(failWithLogs)
    expect(arrived('away'), wallet.tracker.summary()).toEqual(whileAway)

    // Live: each message is pushed to the wallet's socket as it comes.
    await waitUntil('the live session again', async () => (await probe.liveSessions())[0])
    const whileLive = await sendInOrder('live')
    await wallet.inbox.waitFor(whileLive, 120_000).catch(failWithLogs)
    expect(arrived('live'), wallet.tracker.summary()).toEqual(whileLive)

    // Both relays acknowledged some of them, both workers processed some.
    const byRelay = await probe.forwardsByRelay()
    expect([...byRelay.values()].filter((n) => n > 0)).toHaveLength(2)
    for (const worker of cluster.workers) {
      expect(await probe.workerMetric(worker, 'mediator_forwards_total')).toBeGreaterThan(0)
    }
    expect(wallet.tracker.violations()).toEqual([])
    expect(await probe.deadLetters()).toEqual([])
  })
})
