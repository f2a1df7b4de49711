import { describe, expect, it } from 'vitest'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * Graceful shutdown of a worker (guarantees 1 and 4): on SIGTERM it stops taking jobs, finishes the
 * ones it holds, and exits 0; what it did not take waits in Redis for the next worker.
 */
describe('SIGTERM to a busy worker', () => {
  const scenario = useClusterScenario({ label: 'e2e_sigterm', relays: 1, workers: 1 })

  it('finishes its jobs, exits 0, and no message is lost', async () => {
    const { cluster, probe } = scenario
    const worker = cluster.workers[0]
    if (!worker) throw new Error('no worker')
    const wallet = (scenario.wallet = await startWallet('sigterm'))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    const sender = (scenario.sender = await startSender('sigterm'))
    const connection = await sender.connectTo(wallet)
    // A backlog: the worker is frozen while the relay acknowledges a burst, then thawed and, once it
    // is busy with the backlog, sent SIGTERM.
    const messages = Array.from({ length: 40 }, (_, i) => `burst ${i}`)
    worker.proc.child.kill('SIGSTOP')
    try {
      await Promise.all(messages.map((m) => sender.agent.didcomm.basicMessages.sendMessage(connection.id, m)))
      await waitUntil('the burst to be stored', async () => (await probe.inboundCounts()).waiting >= messages.length)
    } finally {
      worker.proc.child.kill('SIGCONT')
    }
    // Several jobs at once (concurrency 8), so some are surely still running when the signal lands.
    await waitUntil('the worker to be busy', async () => (await probe.activeJobIds()).length >= 3, { intervalMs: 20 })
    const exited = worker.proc.stop(60_000)
    const inFlight = await probe.activeJobIds()
    expect(await exited, worker.proc.output()).toBe(0)

    // The jobs it held after the signal were finished by it, not abandoned for another worker.
    expect(inFlight.length, 'jobs in progress after SIGTERM').toBeGreaterThan(0)
    for (const id of inFlight) {
      expect(await probe.jobState(id), id).toBe('completed')
      expect(await probe.stalledCount(id), id).toBe(0)
    }
    const left = await probe.inboundCounts()
    expect(left.active).toBe(0)

    // Everything else waits for the next worker; every message arrives.
    await cluster.addWorker()
    await wallet.inbox.waitFor(messages, 90_000).catch(scenario.failWithLogs)
    await waitUntil('the inbound jobs to be processed', () => probe.inboundIdle()).catch(scenario.failWithLogs)
    expect(await probe.deadLetters()).toEqual([])
    expect(wallet.tracker.violations()).toEqual([])
    console.info(`SIGTERM: ${inFlight.length} jobs in progress after the signal, ${left.waiting} left waiting for the next worker`)
  })
})
