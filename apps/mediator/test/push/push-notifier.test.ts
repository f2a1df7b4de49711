import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { createLogger } from '@mediator/config'
import { createCredoAgent, peerAgentDidcommOptions } from '@mediator/credo-runtime'
import { FcmClient, PushCoalescer, pushEnvSchema, resolvePushSettings } from '@mediator/push-notifications'
import { createTestRedisPrefix, FCM_INVALID_TOKEN, FakePushServices, type TestRedisPrefix } from '@mediator/test-support'
import { PushDeviceStore, PushMetrics, PushNotifier } from '../../src/push/index.js'
import { agentPlatform, type AgentPlatform } from '../support/agent-platform.js'
import { waitUntil } from '../support/wait.js'

/**
 * The notifier with everything real: device records in Postgres through Credo's storage, the
 * coalescer on the test Redis, FCM and its token endpoint served locally.
 */
describe('PushNotifier', () => {
  let services: FakePushServices
  let platform: AgentPlatform
  let agent: ReturnType<typeof createCredoAgent>
  let space: TestRedisPrefix
  let redis: Redis
  const store = new PushDeviceStore()
  const logger = createLogger({ service: 'test', level: 'silent' })
  let waiting = true
  let metrics: PushMetrics
  let registry: Registry
  let notifier: PushNotifier

  beforeAll(async () => {
    services = await FakePushServices.start()
    platform = await agentPlatform('push_notifier')
    agent = createCredoAgent({ kms: platform.kms, storage: platform.storage, didcomm: { ...peerAgentDidcommOptions } })
    await agent.initialize()
  })
  afterAll(async () => {
    await agent?.shutdown()
    platform?.kms.close()
    await platform?.db.drop()
    await services?.close()
  })
  beforeEach(async () => {
    space = await createTestRedisPrefix('push_notifier')
    redis = new Redis(space.redisUrl)
    registry = new Registry()
    metrics = new PushMetrics(registry)
    waiting = true
    const settings = resolvePushSettings(pushEnvSchema.parse(services.env()))
    notifier = new PushNotifier({
      coalescer: new PushCoalescer(redis, space.prefix, 400),
      store,
      senders: { fcm: new FcmClient(settings.fcm!, 5_000) },
      retry: { maxAttempts: 2, baseMs: 10, maxMs: 20 },
      notification: { title: 't', body: 'b' },
      stillWaiting: async () => waiting,
      metrics,
      logger,
    })
    // Its own sweep timer stays out of the way; the tests sweep when they want to.
    notifier.start(agent.context, 60_000)
  })
  afterEach(async () => {
    await notifier.close()
    redis.disconnect()
    await space.cleanup()
  })

  const count = async (name: string, labels?: Record<string, string>) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
    return (metric?.values ?? [])
      .filter((v) => !labels || Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
      .reduce((sum, v) => sum + v.value, 0)
  }

  it('sends one for a burst and one trailing notification when the wallet is still away', async () => {
    const token = 'notifier-token-1'
    await store.set(agent.context, 'conn-1', { service: 'fcm', token, platform: 'android' })
    for (let i = 0; i < 5; i++) notifier.queuedWhileOffline(agent.context, 'conn-1')
    await services.waitFor(() => services.pushesFor(token).length === 1, 10_000, 'the first notification')
    await waitUntil('the coalesced count', async () => (await count('mediator_push_notifications_coalesced_total')) === 4)

    await waitUntil('the trailing notification', async () => {
      await notifier.sweepOnce()
      return services.pushesFor(token).length === 2
    }, { intervalMs: 50, timeoutMs: 10_000 })
    expect(await count('mediator_push_notifications_sent_total', { kind: 'trailing' })).toBe(1)
  })

  it('sends no trailing notification to a wallet that came back meanwhile', async () => {
    const token = 'notifier-token-2'
    await store.set(agent.context, 'conn-2', { service: 'fcm', token, platform: 'ios' })
    notifier.queuedWhileOffline(agent.context, 'conn-2')
    notifier.queuedWhileOffline(agent.context, 'conn-2')
    await services.waitFor(() => services.pushesFor(token).length === 1, 10_000, 'the first notification')
    waiting = false
    // Sweep until the due mark is taken (the window ended), then once more.
    const claimAgain = new PushCoalescer(redis, space.prefix, 400)
    await waitUntil('the window to end', async () => {
      await notifier.sweepOnce()
      return (await redis.zcard(`${space.prefix}:push:due`)) === 0
    }, { intervalMs: 50, timeoutMs: 10_000 })
    await notifier.close()
    expect(services.pushesFor(token)).toHaveLength(1)
    // The sweep claimed the next window for the trailing one it did not send.
    expect(await claimAgain.claim('conn-2')).toBe('coalesced')
  })

  it('removes the device when FCM calls the token invalid, and only that one', async () => {
    const token = 'notifier-token-bad'
    services.answerForToken(token, FCM_INVALID_TOKEN)
    await store.set(agent.context, 'conn-3', { service: 'fcm', token, platform: 'web' })
    await store.set(agent.context, 'conn-4', { service: 'fcm', token: 'notifier-token-ok', platform: 'web' })
    notifier.queuedWhileOffline(agent.context, 'conn-3')
    notifier.queuedWhileOffline(agent.context, 'conn-4')
    await waitUntil('the token to be cleared', async () => (await count('mediator_push_tokens_cleared_total')) === 1)
    expect(await store.get(agent.context, 'conn-3', 'fcm')).toBeNull()
    expect((await store.get(agent.context, 'conn-4', 'fcm'))?.token).toBe('notifier-token-ok')
  })

  it('keeps a token the wallet replaced while a push with the old one failed', async () => {
    await store.set(agent.context, 'conn-5', { service: 'fcm', token: 'new-token', platform: 'android' })
    expect(await store.remove(agent.context, 'conn-5', 'fcm', 'old-token')).toBe(false)
    expect((await store.get(agent.context, 'conn-5', 'fcm'))?.token).toBe('new-token')
  })

  it('gives up on a service that keeps failing, counted, without throwing to the caller', async () => {
    const token = 'notifier-token-503'
    await store.set(agent.context, 'conn-6', { service: 'fcm', token, platform: 'android' })
    services.answerForToken(token, { status: 503, body: {} })
    expect(() => notifier.queuedWhileOffline(agent.context, 'conn-6')).not.toThrow()
    await waitUntil('the failure to be counted', async () => (await count('mediator_push_notifications_failed_total', { reason: 'transient' })) === 1)
    expect(await count('mediator_push_retries_total')).toBe(1)
  })

  it('does nothing for a wallet without a device', async () => {
    notifier.queuedWhileOffline(agent.context, 'conn-none')
    await notifier.close()
    expect(await count('mediator_push_notifications_sent_total')).toBe(0)
    expect(await count('mediator_push_notifications_failed_total')).toBe(0)
  })
})
