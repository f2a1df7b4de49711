import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DidCommBatchPickupMessage,
  DidCommDeliveryRequestV2Message,
  DidCommLiveDeliveryChangeV2Message,
  DidCommMediationRequestMessage,
  DidCommMessagesReceivedV2Message,
  DidCommStatusRequestV2Message,
} from '@credo-ts/didcomm'
import type { Kms } from '@credo-ts/core'
import { TestCluster } from '../../support/cluster.js'
import {
  postEnvelope,
  randomRecipientKey,
  routingKeyOfGrant,
  startProtocolClient,
  type PlainMessage,
  type ProtocolClient,
} from './protocol-client.js'
import { deadLetters, eventually, metricSum } from './cluster-inspection.js'
import { KeylistUpdateRequestMessage } from '../../../src/protocols/index.js'

const FORWARD = 'https://didcomm.org/routing/1.0/forward'
const LEGACY_FORWARD = 'did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/routing/1.0/forward'

interface Attachment {
  '@id': string
  data: { json: unknown }
}

/**
 * Routing 1.0 and message pickup against a process cluster. Forwards take the fast path when
 * FAST_FORWARD is on and Credo's dispatcher (our forward handler) when it is off; both must route the
 * legacy prefix and dead-letter an unknown key the same way, so the forward tests run on both, in two
 * files. The pickup tests do not depend on the forward path and run once.
 */
export function routingSuite(fastForward: 'true' | 'false', options: { pickup: boolean }) {
  describe(`routing 1.0${options.pickup ? ' and message pickup' : ''} against the cluster (FAST_FORWARD=${fastForward})`, () => {
    let cluster: TestCluster
    const clients: ProtocolClient[] = []
    let mediatorKey: Kms.PublicJwk<Kms.Ed25519PublicJwk>

    /** A client with granted mediation and one registered recipient key. */
    async function mediatedClient(label: string) {
      const client = await startProtocolClient(label)
      clients.push(client)
      await client.connect(await cluster.invitationUrl())
      const grant = await client.request(new DidCommMediationRequestMessage({}))
      expect(grant['@type']).toBe('https://didcomm.org/coordinate-mediation/1.0/mediate-grant')
      mediatorKey = routingKeyOfGrant(grant)
      const key = randomRecipientKey()
      const response = await client.request(new KeylistUpdateRequestMessage({ updates: [{ recipient_key: key.did, action: 'add' }] }))
      expect(response.updated).toEqual([{ recipient_key: key.did, action: 'add', result: 'success' }])
      return { client, key }
    }

    async function forward(client: ProtocolClient, to: string, type = FORWARD, recipient = randomRecipientKey().publicJwk) {
      const { inner, outer } = await client.packForward({ type, to, innerRecipient: recipient, mediatorKey })
      expect(await postEnvelope(cluster.publicHttpUrl, outer)).toBe(202)
      return inner
    }

    async function status(client: ProtocolClient): Promise<number> {
      const answer = await client.request(new DidCommStatusRequestV2Message({}))
      expect(answer['@type']).toBe('https://didcomm.org/messagepickup/2.0/status')
      return answer.message_count as number
    }

    async function waitForCount(client: ProtocolClient, count: number) {
      await eventually(async () => ((await status(client)) === count ? true : undefined), `${count} queued messages`)
    }

    beforeAll(async () => {
      cluster = await TestCluster.start({
        label: `proto_route_${fastForward}`,
        relays: 1,
        workers: 1,
        env: { PICKUP_LEASE_MS: '1000', FAST_FORWARD: fastForward },
      })
    })
    afterAll(async () => {
      for (const client of clients) await client.close()
      await cluster?.stop()
    })

    it('queues forwards sent under the https and the legacy did:sov prefix; v2 delivers, confirms exactly the listed ids and redelivers the unconfirmed', async () => {
      const { client, key } = await mediatedClient('route')
      const viaHttps = await forward(client, key.base58, FORWARD)
      const viaLegacy = await forward(client, key.base58, LEGACY_FORWARD)
      const viaDidKey = await forward(client, key.did, FORWARD)
      await waitForCount(client, 3)

      const delivery = await client.request(new DidCommDeliveryRequestV2Message({ limit: 10 }))
      expect(delivery['@type']).toBe('https://didcomm.org/messagepickup/2.0/delivery')
      const attachments = delivery['~attach'] as Attachment[]
      expect(attachments.map((a) => a.data.json)).toEqual([viaHttps, viaLegacy, viaDidKey])

      // Leased, not removed: nothing is available until the wallet confirms or the lease runs out.
      const [first, second, third] = attachments.map((a) => a['@id'])
      const afterConfirm = await client.request(new DidCommMessagesReceivedV2Message({ messageIdList: [first as string] }))
      expect(afterConfirm['@type']).toBe('https://didcomm.org/messagepickup/2.0/status')

      // The two unconfirmed ones come back once their lease (PICKUP_LEASE_MS = 1 s) has run out.
      const redelivered = await eventually(async () => {
        const answer = await client.request(new DidCommDeliveryRequestV2Message({ limit: 10 }))
        return answer['@type'].endsWith('/delivery') ? answer : undefined
      }, 'redelivery after the lease')
      const again = redelivered['~attach'] as Attachment[]
      expect(again.map((a) => a['@id']).sort()).toEqual([second, third].sort())
      expect(again.map((a) => a.data.json)).toEqual([viaLegacy, viaDidKey])

      await client.request(new DidCommMessagesReceivedV2Message({ messageIdList: [second as string, third as string] }))
      // Nothing left, leased or not: a delivery request is answered with status(0), even after a lease.
      await new Promise((resolve) => setTimeout(resolve, 1_200))
      const empty = await client.request(new DidCommDeliveryRequestV2Message({ limit: 10 }))
      expect(empty['@type']).toBe('https://didcomm.org/messagepickup/2.0/status')
      expect(empty.message_count).toBe(0)
    })

    it('dead-letters a forward to a key nobody registered, once, with a clear error, and keeps working', async () => {
      const { client, key } = await mediatedClient('unknown')
      const stranger = randomRecipientKey()
      const before = await metricSum(cluster, 'mediator_forwards_unroutable_total', 'reason="unknown_key"')
      await forward(client, stranger.base58)

      const letter = await eventually(async () => {
        const letters = await deadLetters(cluster)
        return letters.find((l) => l.failedReason.includes(stranger.base58))
      }, 'the dead letter')
      expect(letter.failedReason).toMatch(/no wallet registered/)
      expect(letter.attemptsMade).toBe(1)
      expect(await metricSum(cluster, 'mediator_forwards_unroutable_total', 'reason="unknown_key"')).toBe(before + 1)
      expect(await metricSum(cluster, 'mediator_dead_letters_total')).toBeGreaterThanOrEqual(1)

      // A `to` that is no key at all is judged the same way.
      await forward(client, 'not-a-recipient-key')
      const malformed = await eventually(async () => {
        const letters = await deadLetters(cluster)
        return letters.find((l) => l.failedReason.includes('is not a recipient key'))
      }, 'the dead letter of a malformed key')
      expect(malformed.attemptsMade).toBe(1)
      expect(await metricSum(cluster, 'mediator_forwards_unroutable_total', 'reason="malformed_key"')).toBe(1)

      // The same worker still routes a good forward.
      const inner = await forward(client, key.base58)
      await waitForCount(client, 1)
      const delivery = await client.request(new DidCommDeliveryRequestV2Message({ limit: 10 }))
      expect((delivery['~attach'] as Attachment[]).map((a) => a.data.json)).toEqual([inner])
    })

    it.runIf(options.pickup)('pickup v1: batch-pickup answers a batch and removes what it returned', async () => {
      const { client, key } = await mediatedClient('v1')
      const sent = [await forward(client, key.base58), await forward(client, key.base58)]
      await waitForCount(client, 2)
      const batch = await client.request(new DidCommBatchPickupMessage({ batchSize: 10 }))
      expect(batch['@type']).toBe('https://didcomm.org/messagepickup/1.0/batch')
      const messages = batch['messages~attach'] as Array<{ '@id': string; message: unknown }>
      expect(messages.map((m) => m.message)).toEqual(sent)
      expect(await status(client)).toBe(0)
      const emptyBatch = await client.request(new DidCommBatchPickupMessage({ batchSize: 10 }))
      expect(emptyBatch['messages~attach']).toEqual([])
    })

    it.runIf(options.pickup)('pickup v2 live mode: live-delivery-change over a WebSocket, then forwards are pushed as they arrive', async () => {
      const { client, key } = await mediatedClient('live')
      const on = await client.request(new DidCommLiveDeliveryChangeV2Message({ liveDelivery: true }), { ws: true })
      expect(on['@type']).toBe('https://didcomm.org/messagepickup/2.0/status')
      expect(on.live_delivery).toBe(true)

      const inner = await forward(client, key.base58)
      const pushed = await client.next(
        (m: PlainMessage) => m['@type'] === 'https://didcomm.org/messagepickup/2.0/delivery',
        'a live delivery',
      )
      const attachments = pushed['~attach'] as Attachment[]
      expect(attachments.map((a) => a.data.json)).toEqual([inner])
      const confirmed = await client.request(
        new DidCommMessagesReceivedV2Message({ messageIdList: attachments.map((a) => a['@id']) }),
        { ws: true },
      )
      expect(confirmed.message_count).toBe(0)

      const off = await client.request(new DidCommLiveDeliveryChangeV2Message({ liveDelivery: false }), { ws: true })
      expect(off.live_delivery).toBe(false)
    })
  })
}
