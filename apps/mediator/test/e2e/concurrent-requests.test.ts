import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DidCommEventTypes,
  DidCommMediatorPickupStrategy,
  DidCommStatusRequestV2Message,
  DidCommStatusV2Message,
  type DidCommMessageSentEvent,
} from '@credo-ts/didcomm'
import { TestCluster } from '../support/cluster.js'
import { ClusterProbe } from '../support/cluster-probe.js'
import { startWallet, type TestWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

/**
 * A wallet without a socket (polling, or between two WebSockets) asks over HTTP, and may ask several
 * things at once. One worker processes those requests concurrently; each held request must get its
 * own answer: not another request's, and not "no reply" while its answer is lost (guarantee 5).
 */
describe('concurrent HTTP requests of one wallet', () => {
  let cluster: TestCluster
  let probe: ClusterProbe
  let wallet: TestWallet

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'e2e_concurrent', relays: 1, workers: 1 })
    probe = new ClusterProbe(cluster)
  })
  afterAll(async () => {
    try {
      await wallet?.close()
    } finally {
      await probe?.close()
      await cluster?.stop()
    }
  })

  it('each get their own answer from one worker', async () => {
    wallet = await startWallet('concurrent', DidCommMediatorPickupStrategy.PickUpV2)
    const { connection } = await wallet.obtainMediation(await cluster.invitationUrl())

    const asked = new Set<string>()
    const answered = new Set<string>()
    wallet.agent.events.on<DidCommMessageSentEvent>(DidCommEventTypes.DidCommMessageSent, (e) => {
      if (e.payload.message.message instanceof DidCommStatusRequestV2Message) asked.add(e.payload.message.message.id)
    })
    wallet.agent.didcomm.registerMessageHandlerMiddleware(async (context, next) => {
      if (context.message instanceof DidCommStatusV2Message && context.message.threadId) answered.add(context.message.threadId)
      await next()
    })

    // Status requests over HTTP with return route, all at once, in rounds.
    const rounds = 3
    const perRound = 8
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        Array.from({ length: perRound }, () =>
          wallet.agent.didcomm.messagePickup.pickupMessages({ connectionId: connection.id, protocolVersion: 'v2' }),
        ),
      )
    }
    expect(asked.size).toBe(rounds * perRound)
    await waitUntil('every job to be done', () => probe.inboundIdle())
    await waitUntil('every request to be answered', () => [...asked].every((id) => answered.has(id)), {
      explain: async () =>
        `${[...asked].filter((id) => !answered.has(id)).length} of ${asked.size} requests got no answer; ` +
        `dead letters: ${JSON.stringify((await probe.deadLetters()).map((d) => d.failedReason))}`,
    })
    expect(await probe.deadLetters()).toEqual([])
  })
})
