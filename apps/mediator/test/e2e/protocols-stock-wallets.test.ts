import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DidCommMediationState, DidCommMediatorPickupStrategy } from '@credo-ts/didcomm'
import { TestCluster } from '../support/cluster.js'
import { startSender, startWallet, type TestSender, type TestWallet } from '../support/agents.js'

/** Unmodified Credo wallets, each with one pickup strategy, receiving from another agent through the cluster. */
describe('stock Credo wallets on every pickup strategy', () => {
  let cluster: TestCluster
  let sender: TestSender
  const wallets: TestWallet[] = []

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'proto_stock', relays: 1, workers: 1 })
    sender = await startSender('stock_sender')
  })
  afterAll(async () => {
    for (const wallet of wallets) await wallet.close()
    await sender?.close()
    await cluster?.stop()
  })

  const strategies = [
    ['pickup v1 (batch-pickup polling)', DidCommMediatorPickupStrategy.PickUpV1],
    ['pickup v2 (status/delivery polling)', DidCommMediatorPickupStrategy.PickUpV2],
  ] as const

  it.each(strategies)('%s receives every message', async (name, strategy) => {
    const wallet = await startWallet(`stock_${strategy.toLowerCase()}`, strategy)
    wallets.push(wallet)
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    expect(mediation.state).toBe(DidCommMediationState.Granted)
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)

    const connection = await sender.connectTo(wallet)
    const messages = Array.from({ length: 4 }, (_, i) => `${name} ${i}`)
    for (const m of messages) await sender.agent.didcomm.basicMessages.sendMessage(connection.id, m)
    await wallet.inbox.waitFor(messages).catch((error: Error) => {
      throw new Error(`${error.message}\n${cluster.logs()}`)
    })
    await wallet.agent.didcomm.mediationRecipient.stopMessagePickup()
  })
})
