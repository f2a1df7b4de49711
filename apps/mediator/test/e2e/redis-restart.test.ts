import { describe, expect, it } from 'vitest'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { PrivateRedis } from '../support/private-redis.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * Guarantee 1 when Redis itself dies: kill -9 of Redis (AOF on, fsync always) while a sender streams
 * messages to a live wallet, then Redis back on the same data. Relays hold the POSTs meanwhile (or
 * answer 503, and the sender sends again), every process reconnects by itself, and every message a
 * relay acknowledged arrives.
 */
describe('kill -9 of Redis mid-stream, AOF on', () => {
  let redis: PrivateRedis | undefined
  const scenario = useClusterScenario(
    { label: 'e2e_redis_kill', relays: 2, workers: 2 },
    {
      beforeStart: async () => {
        redis = await PrivateRedis.start()
        return { redisUrl: redis.url }
      },
      afterStop: async () => redis?.stop(),
    },
  )

  it('delivers every acknowledged message once Redis is back, and none after its confirmation', async () => {
    const { cluster, probe } = scenario
    const wallet = (scenario.wallet = await startWallet('redis_kill'))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    await waitUntil('the wallet live session', async () => (await probe.liveSessions())[0])
    const sender = (scenario.sender = await startSender('redis_kill'))
    const connection = await sender.connectTo(wallet)
    const send = (texts: string[]) => Promise.all(texts.map((t) => sender.sendUntilAccepted(connection.id, t, 90_000)))

    const before = Array.from({ length: 10 }, (_, i) => `before ${i}`)
    const during = Array.from({ length: 10 }, (_, i) => `during ${i}`)
    const after = Array.from({ length: 10 }, (_, i) => `after ${i}`)
    await send(before)
    await redis?.kill9()
    // Sent while Redis is down: held by the relays until it is back (or refused, and sent again).
    const duringSent = send(during)
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    await redis?.restart()
    const attempts = await duringSent
    await send(after)

    await wallet.inbox.waitFor([...before, ...during, ...after], 120_000).catch(scenario.failWithLogs)
    expect(wallet.tracker.violations(), wallet.tracker.summary()).toEqual([])
    expect(await probe.deadLetters()).toEqual([])
    console.info(
      `Redis kill -9: ${attempts.reduce((a, b) => a + b, 0) - during.length} sends refused while it was down; ${wallet.tracker.summary()}`,
    )
  })
})
