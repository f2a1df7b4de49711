import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DidCommDidExchangeState } from '@credo-ts/didcomm'
import { FCM_UNREGISTERED, FakePushServices } from '@mediator/test-support'
import { TestCluster } from '../support/cluster.js'
import { ClusterProbe } from '../support/cluster-probe.js'
import { startSender, startWallet, type TestSender, type TestWallet } from '../support/agents.js'
import { pushWallet } from '../support/push-wallet.js'
import { waitUntil } from '../support/wait.js'

/**
 * Push notifications end to end: Credo wallets register their device with push-notifications-fcm
 * (and -apns), go offline, and the local FCM/APNs endpoints (FakePushServices, answering as Google's
 * OAuth, FCM HTTP v1 and APNs do) see what two workers send. The window is long enough that no
 * trailing notification falls inside a test; trailing ones are covered by the coalescer's tests.
 */
describe('push notifications to offline wallets', () => {
  let services: FakePushServices
  let cluster: TestCluster
  let probe: ClusterProbe
  let sender: TestSender
  const wallets: TestWallet[] = []

  beforeAll(async () => {
    services = await FakePushServices.start()
    cluster = await TestCluster.start({
      label: 'e2e_push',
      relays: 1,
      workers: 2,
      env: { ...services.env(), PUSH_COALESCE_MS: '600000', PUSH_RETRY_BASE_MS: '50', PUSH_RETRY_MAX_MS: '200' },
    })
    probe = new ClusterProbe(cluster)
    sender = await startSender('push_sender')
  })
  afterAll(async () => {
    await sender?.close()
    for (const wallet of wallets) await wallet.close()
    await probe?.close()
    await cluster?.stop()
    await services?.close()
  })

  const sumOverWorkers = async (metric: string) =>
    (await Promise.all(cluster.workers.map((w) => probe.workerMetric(w, metric)))).reduce((a, b) => a + b, 0)

  /** A mediated wallet, live, with a sender connection, whose device is registered with `fields`. */
  async function walletWithDevice(label: string, service: 'fcm' | 'apns', fields: Record<string, unknown>) {
    const wallet = await startWallet(label)
    wallets.push(wallet)
    const known = new Set((await probe.liveSessions()).map((s) => s.connectionId))
    const { connection, mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    // The mediator's side of the connection: the live session that is new.
    const mediatorConnectionId = await waitUntil('the wallet live session', async () =>
      (await probe.liveSessions()).find((s) => !known.has(s.connectionId))?.connectionId,
    )
    const push = pushWallet(wallet.agent, connection)
    await push.setDeviceInfo(service, fields)
    await push.waitForDeviceInfo(service, (a) => a.device_token === (service === 'apns' ? String(fields.device_token).toLowerCase() : fields.device_token))
    const toWallet = await sender.connectTo(wallet)
    // The sender is connected once it sent its DID exchange `complete`; that message must have reached
    // the wallet before the wallet goes away, or it would be the first thing queued (and notified).
    await waitUntil('the wallet to have completed the connection', async () =>
      (await wallet.agent.didcomm.connections.getAll()).every((c) => c.state === DidCommDidExchangeState.Completed),
    )
    await waitUntil('the inbound jobs to be processed', () => probe.inboundIdle())
    return { wallet, connection, push, toWallet, mediatorConnectionId }
  }

  async function goOffline(wallet: TestWallet) {
    const before = (await probe.liveSessions()).length
    await wallet.goOffline()
    await waitUntil('the wallet session to end', async () => (await probe.liveSessions()).length < before)
  }

  it('lists both protocols in discover-features', async () => {
    const wallet = await startWallet('push_features')
    wallets.push(wallet)
    const { connection } = await wallet.obtainMediation(await cluster.invitationUrl())
    const { features } = await wallet.agent.didcomm.discovery.queryFeatures({
      connectionId: connection.id,
      protocolVersion: 'v2',
      queries: [{ featureType: 'protocol', match: 'https://didcomm.org/push-notifications-*' }],
      awaitDisclosures: true,
      awaitDisclosuresTimeoutMs: 15_000,
    })
    expect((features ?? []).map((f) => f.id).sort()).toEqual([
      'https://didcomm.org/push-notifications-apns/1.0',
      'https://didcomm.org/push-notifications-fcm/1.0',
    ])
  })

  it('stores device info, answers get-device-info, and notifies the device once when a forward is queued offline', async () => {
    const token = 'fcm-token-single:APA91bExampleToken_1'
    const { wallet, push, toWallet } = await walletWithDevice('push_single', 'fcm', { device_token: token, device_platform: 'android' })
    expect(await push.getDeviceInfo('fcm')).toMatchObject({
      '@type': 'https://didcomm.org/push-notifications-fcm/1.0/device-info',
      device_token: token,
      device_platform: 'android',
    })
    expect(await push.getDeviceInfo('apns')).toMatchObject({ device_token: null })

    // While the wallet is live, forwards are delivered and nobody is notified.
    await sender.sendUntilAccepted(toWallet.id, 'while online')
    await wallet.inbox.waitFor(['while online'])
    expect(services.pushesFor(token)).toHaveLength(0)

    await goOffline(wallet)
    await sender.sendUntilAccepted(toWallet.id, 'while offline')
    await services.waitFor(() => services.pushesFor(token).length > 0, 20_000, 'a notification')
    const [pushed] = services.pushesFor(token)
    expect(pushed?.body).toMatchObject({ message: { token, notification: { title: 'New message' }, data: { type: 'didcomm-message-waiting' } } })

    await wallet.comeOnline()
    await wallet.inbox.waitFor(['while offline'])
    expect(services.pushesFor(token)).toHaveLength(1)
  })

  it('sends one notification for a burst of 20 forwards processed by two workers', async () => {
    const token = 'fcm-token-burst:APA91bExampleToken_2'
    const { wallet, toWallet, mediatorConnectionId } = await walletWithDevice('push_burst', 'fcm', { device_token: token, device_platform: 'ios' })
    await goOffline(wallet)
    const [sentBefore, coalescedBefore] = [await sumOverWorkers('mediator_push_notifications_sent_total'), await sumOverWorkers('mediator_push_notifications_coalesced_total')]
    const forwardsBefore = await Promise.all(cluster.workers.map((w) => probe.workerMetric(w, 'mediator_forwards_total')))

    const burst = Array.from({ length: 20 }, (_, i) => `burst ${i}`)
    await Promise.all(burst.map((m) => sender.sendUntilAccepted(toWallet.id, m)))
    // A sender retrying an unacknowledged POST may queue one twice; every queued one counts. The
    // counters are deployment-wide (other wallets may add to them), so they are lower bounds here.
    const queued = await waitUntil('the burst to be queued', async () => {
      const { pending } = await probe.queueStats(mediatorConnectionId)
      return pending >= burst.length ? pending : undefined
    })
    await services.waitFor(() => services.pushesFor(token).length > 0, 20_000, 'the notification of the burst')
    await waitUntil(
      'every queued forward of the burst to be either notified or coalesced',
      async () =>
        (await sumOverWorkers('mediator_push_notifications_sent_total')) - sentBefore +
          ((await sumOverWorkers('mediator_push_notifications_coalesced_total')) - coalescedBefore) >=
        queued,
      { explain: () => cluster.logs() },
    )
    expect(services.pushesFor(token)).toHaveLength(1)
    expect((await sumOverWorkers('mediator_push_notifications_coalesced_total')) - coalescedBefore).toBeGreaterThanOrEqual(queued - 1)
    const forwardsAfter = await Promise.all(cluster.workers.map((w) => probe.workerMetric(w, 'mediator_forwards_total')))
    // Which worker took which forward is BullMQ's choice; the count per worker is logged for the record.
    console.info('forwards of the burst per worker:', forwardsAfter.map((n, i) => n - (forwardsBefore[i] ?? 0)))

    await wallet.comeOnline()
    await wallet.inbox.waitFor(burst)
  })

  it('notifies an APNs device over HTTP/2', async () => {
    const token = 'ab12'.repeat(16)
    const { wallet, toWallet } = await walletWithDevice('push_apns', 'apns', { device_token: token.toUpperCase() })
    await goOffline(wallet)
    await sender.sendUntilAccepted(toWallet.id, 'for an iPhone')
    await services.waitFor(() => services.pushesFor(token).length > 0, 20_000, 'an APNs notification')
    expect(services.pushesFor(token)[0]).toMatchObject({ service: 'apns', body: { aps: { alert: { title: 'New message' } } } })
  })

  it('retries a 503 from FCM and still notifies once', async () => {
    const token = 'fcm-token-retry:APA91bExampleToken_3'
    const { wallet, toWallet } = await walletWithDevice('push_retry', 'fcm', { device_token: token, device_platform: 'android' })
    await goOffline(wallet)
    const retriesBefore = await sumOverWorkers('mediator_push_retries_total')
    services.answerNext('fcm', { status: 503, body: { error: { code: 503, status: 'UNAVAILABLE' } } })
    services.answerNext('fcm', { status: 429, retryAfter: '0', body: { error: { code: 429, status: 'RESOURCE_EXHAUSTED' } } })
    await sender.sendUntilAccepted(toWallet.id, 'after a hiccup')
    await services.waitFor(() => services.pushesFor(token).length > 0, 20_000, 'the retried notification')
    expect(services.pushesFor(token)).toHaveLength(1)
    expect((await sumOverWorkers('mediator_push_retries_total')) - retriesBefore).toBe(2)
    // The forward itself was never held up: the wallet gets it.
    await wallet.comeOnline()
    await wallet.inbox.waitFor(['after a hiccup'])
  })

  it('removes the device info when FCM calls the token unregistered', async () => {
    const token = 'fcm-token-gone:APA91bExampleToken_4'
    services.answerForToken(token, FCM_UNREGISTERED)
    const { wallet, connection, toWallet } = await walletWithDevice('push_gone', 'fcm', { device_token: token, device_platform: 'android' })
    const clearedBefore = await sumOverWorkers('mediator_push_tokens_cleared_total')
    await goOffline(wallet)
    await sender.sendUntilAccepted(toWallet.id, 'to a dead token')
    await waitUntil('the token to be cleared', async () => (await sumOverWorkers('mediator_push_tokens_cleared_total')) > clearedBefore)
    expect(services.pushesFor(token)).toHaveLength(0)

    await wallet.comeOnline()
    await wallet.inbox.waitFor(['to a dead token'])
    const push = pushWallet(wallet.agent, connection)
    expect(await push.getDeviceInfo('fcm')).toMatchObject({ device_token: null, device_platform: null })
    // Its dead-lettered forwards: none; a failed push never fails the forward.
    expect((await probe.deadLetters()).length).toBe(0)
  })

  it('answers bad device info with a problem report and stores nothing', async () => {
    const wallet = await startWallet('push_bad')
    wallets.push(wallet)
    const { connection } = await wallet.obtainMediation(await cluster.invitationUrl())
    const push = pushWallet(wallet.agent, connection)
    const cases: Array<[string, 'fcm' | 'apns', Record<string, unknown>, RegExp]> = [
      ['a token that is a number', 'fcm', { device_token: 12345, device_platform: 'android' }, /device_token must be a string/],
      ['a huge token', 'fcm', { device_token: 'x'.repeat(100_000), device_platform: 'android' }, /at most 1024 characters/],
      ['an unknown platform', 'fcm', { device_token: 'abc:def', device_platform: 'blackberry' }, /device_platform must be one of android, ios, web/],
      ['an APNs token that is not hex', 'apns', { device_token: 'not-a-device-token' }, /hexadecimal/],
    ]
    for (const [what, service, fields, message] of cases) {
      const id = await push.setDeviceInfo(service, fields)
      const answer = await push.answerTo(id)
      expect(answer['@type'], what).toBe(`https://didcomm.org/push-notifications-${service}/1.0/problem-report`)
      expect(answer.description, what).toMatchObject({ code: 'invalid-device-info', en: expect.stringMatching(message) })
    }
    expect(await push.getDeviceInfo('fcm')).toMatchObject({ device_token: null, device_platform: null })
    expect(await push.getDeviceInfo('apns')).toMatchObject({ device_token: null })
  })
})
