import { describe, expect, it } from 'vitest'
import { useClusterScenario, WORKER_KILL_ENV } from '../support/cluster-scenario.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * Per-wallet order across a worker's death: messages sent one after another to an offline wallet
 * meet a backlog; a worker is killed (kill -9) while it processes part of it, and its jobs are
 * processed again, after younger ones, by the other worker once their lock expired. The retried older
 * messages still come before the younger ones queued meanwhile: the wallet, back online, gets all of
 * them in the order they were sent.
 */
describe('per-wallet order when a worker dies mid-stream', () => {
  const COUNT = 60
  const scenario = useClusterScenario({
    label: 'e2e_order_kill',
    relays: 2,
    workers: 2,
    env: WORKER_KILL_ENV,
  })

  it('delivers retried older messages before younger ones queued while they waited', async () => {
    const { cluster, probe, failWithLogs } = scenario
    const [victim, survivor] = cluster.workers
    if (!victim || !survivor) throw new Error('two workers expected')
    const wallet = (scenario.wallet = await startWallet('order-kill'))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    await waitUntil('the wallet live session', async () => (await probe.liveSessions())[0])
    const sender = (scenario.sender = await startSender('order-kill', { connectionPerMessage: true }))
    const connection = await sender.connectTo(wallet)
    await wallet.goOffline()
    await waitUntil('the live session to end', async () => (await probe.liveSessions()).length === 0)

    const sent: string[] = []
    for (const w of cluster.workers) w.proc.child.kill('SIGSTOP')
    try {
      for (let i = 0; i < COUNT; i++) {
        const content = `ordered ${i}`
        await sender.agent.didcomm.basicMessages.sendMessage(connection.id, content)
        sent.push(content)
      }
      // The victim alone takes from the backlog, and dies holding jobs.
      victim.proc.child.kill('SIGCONT')
      await waitUntil('the victim to be busy', async () => (await probe.inboundCounts()).active >= 3, { intervalMs: 10 })
      await victim.proc.kill9()
    } finally {
      if (survivor.proc.child.exitCode === null) survivor.proc.child.kill('SIGCONT')
    }
    expect(victim.proc.child.signalCode).toBe('SIGKILL')
    await waitUntil('the inbound jobs to be processed', () => probe.inboundIdle(), { timeoutMs: 90_000 }).catch(failWithLogs)
    expect(await probe.recoveredJobs()).toBeGreaterThan(0)

    await wallet.comeOnline()
    await wallet.inbox.waitFor(sent, 120_000).catch(failWithLogs)
    expect(wallet.tracker.contentsInArrivalOrder().filter((c) => c.startsWith('ordered ')), wallet.tracker.summary()).toEqual(sent)
    expect(wallet.tracker.violations()).toEqual([])
    expect(await probe.deadLetters()).toEqual([])
  })
})
