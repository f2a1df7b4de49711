import { describe, expect, it } from 'vitest'
import { DidCommDeliveryRequestV2Message, DidCommMediationRequestMessage, DidCommMessagesReceivedV2Message } from '@credo-ts/didcomm'
import { useClusterScenario } from '../support/cluster-scenario.js'
import { mediatorAdmin, mediatorAdminJson } from '../support/admin-cli.js'
import { waitUntil } from '../support/wait.js'
import { postEnvelope, randomRecipientKey, routingKeyOfGrant, startProtocolClient, type ProtocolClient } from '../protocols/support/protocol-client.js'
import { KeylistUpdateRequestMessage } from '../../src/protocols/index.js'

const FORWARD = 'https://didcomm.org/routing/1.0/forward'
const UI_PASSWORD = 'operator password for the test'

interface Attachment {
  '@id': string
  data: { json: unknown }
}

/**
 * The operator's path through a dead letter, on a real cluster: a forward arrives for a key the
 * wallet has not registered yet and is dead-lettered; the wallet registers the key; the operator finds
 * the dead letter (CLI and queue UI), replays it with mediator-admin, and the worker processes it
 * once: the wallet's queue holds it once and a second replay is refused.
 */
describe('operator: replaying a dead letter with mediator-admin', () => {
  const scenario = useClusterScenario({ label: 'e2e_admin', relays: 1, workers: 1, env: { OPS_UI_PASSWORD: UI_PASSWORD } })
  let client: ProtocolClient | undefined

  it('finds it, replays it, and the worker delivers it exactly once', async () => {
    const { cluster, probe } = scenario
    client = await startProtocolClient('admin')
    try {
      await client.connect(await cluster.invitationUrl())
      const grant = await client.request(new DidCommMediationRequestMessage({}))
      const mediatorKey = routingKeyOfGrant(grant)
      const key = randomRecipientKey()

      // A forward to the key before the wallet registered it: a dead letter.
      const { inner, outer } = await client.packForward({ type: FORWARD, to: key.base58, innerRecipient: randomRecipientKey().publicJwk, mediatorKey })
      expect(await postEnvelope(cluster.publicHttpUrl, outer)).toBe(202)
      const letter = await waitUntil('the forward in the dead letters', async () =>
        (await probe.deadLetters()).find((d) => d.failedReason.includes(key.base58)),
      ).catch(scenario.failWithLogs)

      // What the operator sees: status, the list filtered by the wallet's key, and the queue UI.
      const status = await mediatorAdminJson<{ deadLetters: number; workers: Array<{ workerId: string; alive: boolean }>; relays: Array<{ alive: boolean }> }>(cluster, ['status'])
      expect(status.deadLetters).toBe(1)
      expect(status.workers).toEqual([expect.objectContaining({ workerId: 'worker-1', alive: true })])
      expect(status.relays.map((r) => r.alive)).toEqual([true])
      const listed = await mediatorAdminJson<{ deadLetters: Array<{ id: string }> }>(cluster, ['dead-letters', 'list', '--recipient', key.did])
      expect(listed.deadLetters.map((d) => d.id)).toEqual([letter.id])
      const worker = cluster.workers[0]
      if (!worker) throw new Error('no worker')
      const uiApi = `http://127.0.0.1:${worker.opsPort}/ui/api/queues?activeQueue=inbound&status=failed&page=1&jobsPerPage=10`
      expect((await fetch(uiApi)).status).toBe(401)
      const ui = await fetch(uiApi, { headers: { authorization: `Basic ${Buffer.from(`operator:${UI_PASSWORD}`).toString('base64')}` } })
      expect(ui.status).toBe(200)
      expect(JSON.stringify(await ui.json())).toContain(letter.id)

      // The wallet registers the key; its queue, found by that key, is empty.
      const updated = await client.request(new KeylistUpdateRequestMessage({ updates: [{ recipient_key: key.did, action: 'add' }] }))
      expect(updated.updated).toEqual([{ recipient_key: key.did, action: 'add', result: 'success' }])
      const before = await mediatorAdminJson<{ queues: Array<{ connectionId: string; count: number }> }>(cluster, ['queue', key.did])
      expect(before.queues).toEqual([expect.objectContaining({ count: 0 })])
      const connectionId = before.queues[0]?.connectionId ?? ''

      const replayed = await mediatorAdminJson(cluster, ['dead-letters', 'replay', letter.id])
      expect(replayed).toMatchObject({ requested: 1, done: 1 })
      await waitUntil('the replayed job completed', async () => (await probe.jobState(letter.id)) === 'completed' || undefined).catch(scenario.failWithLogs)

      // Once in the wallet's queue, and a second replay changes nothing.
      const again = await mediatorAdmin(cluster, ['dead-letters', 'replay', letter.id])
      expect(again.code).toBe(3)
      expect(again.stdout).toContain('not a dead letter (now completed)')
      const after = await mediatorAdminJson<{ queues: Array<{ connectionId: string; count: number; pendingForKey: number }> }>(cluster, ['queue', key.base58])
      expect(after.queues).toEqual([expect.objectContaining({ connectionId, count: 1, pendingForKey: 1 })])
      expect((await mediatorAdminJson<{ deadLetters: number }>(cluster, ['status'])).deadLetters).toBe(0)

      const delivery = await client.request(new DidCommDeliveryRequestV2Message({ limit: 10 }))
      const attachments = delivery['~attach'] as Attachment[]
      expect(attachments.map((a) => a.data.json)).toEqual([inner])
      await client.request(new DidCommMessagesReceivedV2Message({ messageIdList: attachments.map((a) => a['@id']) }))
      const emptied = await mediatorAdminJson<{ queues: Array<{ count: number }> }>(cluster, ['queue', connectionId])
      expect(emptied.queues[0]?.count).toBe(0)
    } finally {
      await client.close()
    }
  })
})
