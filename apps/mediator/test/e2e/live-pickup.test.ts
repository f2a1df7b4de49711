import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DidCommMediationState } from '@credo-ts/didcomm'
import { TestCluster } from '../support/cluster.js'
import { startSender, startWallet, type TestSender, type TestWallet } from '../support/agents.js'

describe('a wallet mediated by the cluster', () => {
  let cluster: TestCluster
  let wallet: TestWallet
  let sender: TestSender

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'e2e_live', relays: 1, workers: 1 })
  })
  afterAll(async () => {
    await sender?.close()
    await wallet?.close()
    await cluster?.stop()
  })

  it('gets mediation over a relay and receives forwarded messages live', async () => {
    wallet = await startWallet('alice')
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    expect(mediation.state).toBe(DidCommMediationState.Granted)
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)

    sender = await startSender('bob')
    const connection = await sender.connectTo(wallet)
    const messages = Array.from({ length: 5 }, (_, i) => `hello ${i}`)
    for (const m of messages) await sender.agent.didcomm.basicMessages.sendMessage(connection.id, m)
    await wallet.inbox.waitFor(messages).catch((error: Error) => {
      throw new Error(`${error.message}\n${cluster.logs()}`)
    })
  })
})
