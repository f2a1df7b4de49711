import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestCluster } from '../support/cluster.js'
import { startSender, startWallet, type TestSender, type TestWallet } from '../support/agents.js'

/** Sum of one counter's samples with the given label, from a Prometheus text exposition. */
function counter(metrics: string, name: string, label: string): number {
  let total = 0
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(label)) total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

describe('forwards on the fast path reach a live wallet', () => {
  let cluster: TestCluster
  let wallet: TestWallet
  let sender: TestSender

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'e2e_fastfwd', relays: 1, workers: 2, env: { FAST_FORWARD: 'true' } })
  })
  afterAll(async () => {
    await sender?.close()
    await wallet?.close()
    await cluster?.stop()
  })

  it('delivers every message, through the fast path, packed by the fast delivery packer', async () => {
    wallet = await startWallet('fastfwd_alice')
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)

    sender = await startSender('fastfwd_bob')
    const connection = await sender.connectTo(wallet)
    const messages = Array.from({ length: 10 }, (_, i) => `fast ${i}`)
    for (const m of messages) await sender.agent.didcomm.basicMessages.sendMessage(connection.id, m)
    await wallet.inbox.waitFor(messages).catch((error: Error) => {
      throw new Error(`${error.message}\n${cluster.logs()}`)
    })

    let fast = 0
    for (const worker of cluster.workers) {
      const text = await (await fetch(`http://127.0.0.1:${worker.opsPort}/metrics`)).text()
      fast += counter(text, 'mediator_forwards_total', 'path="fast"')
    }
    // Every message to the wallet reached the mediator as a forward (the ten basic messages and the
    // sender's DID exchange messages), and every one of them took the fast path.
    expect(fast).toBeGreaterThanOrEqual(messages.length)
  })
})
