import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FCM_INVALID_TOKEN, FCM_UNREGISTERED, FakePushServices } from '@mediator/test-support'
import { ApnsClient, FcmClient, pushEnvSchema, resolvePushSettings, withRetries, type PushSettings } from '../src/index.js'

const notification = { title: 'New message', body: 'You have a new message', collapseKey: 'conn-1' }
const fcmToken = 'fcm-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:APA91b'
const apnsToken = 'ab'.repeat(32)

let services: FakePushServices
let settings: PushSettings

beforeAll(async () => {
  services = await FakePushServices.start()
  settings = resolvePushSettings(pushEnvSchema.parse(services.env()))
})
afterAll(async () => services.close())

describe('settings', () => {
  it('reads the service account, its token_uri and project, and the APNs key', () => {
    expect(settings.fcm?.projectId).toBe(services.projectId)
    expect(settings.fcm?.tokenUrl).toBe(services.tokenUrl)
    expect(settings.apns?.topic).toBe(services.apnsTopic)
  })

  it('is off without credentials', () => {
    const off = resolvePushSettings(pushEnvSchema.parse({}))
    expect(off.fcm).toBeUndefined()
    expect(off.apns).toBeUndefined()
    expect(off.coalesceMs).toBe(30_000)
  })

  it('names what is wrong with a half configuration', () => {
    expect(() => resolvePushSettings(pushEnvSchema.parse({ APNS_KEY_ID: 'ABCDE12345' }))).toThrow(/APNS_KEY[\s\S]*APNS_TEAM_ID/)
    expect(() => resolvePushSettings(pushEnvSchema.parse({ FCM_SERVICE_ACCOUNT_JSON: '{"type":"user"}' }))).toThrow(
      /FCM_SERVICE_ACCOUNT_JSON: is not a service account key/,
    )
    expect(() => resolvePushSettings(pushEnvSchema.parse({ FCM_SERVICE_ACCOUNT_FILE: '/nonexistent/sa.json' }))).toThrow(
      /FCM_SERVICE_ACCOUNT_FILE: cannot read/,
    )
  })

  it('reads the key from a file', () => {
    const read = resolvePushSettings(pushEnvSchema.parse({ FCM_SERVICE_ACCOUNT_FILE: '/secrets/sa.json' }), () => services.serviceAccountJson())
    expect(read.fcm?.projectId).toBe(services.projectId)
  })
})

describe('FcmClient', () => {
  it('gets an OAuth token with the service account and sends to the token', async () => {
    const client = new FcmClient(settings.fcm!, 5_000)
    const before = services.tokenRequests
    expect(await client.send(fcmToken, notification)).toMatchObject({ outcome: 'sent' })
    expect(await client.send(fcmToken, notification)).toMatchObject({ outcome: 'sent' })
    expect(services.tokenRequests - before).toBe(1)
    const sent = services.pushesFor(fcmToken).at(-1)?.body as { message: Record<string, unknown> }
    expect(sent.message).toMatchObject({ token: fcmToken, notification: { title: 'New message' }, android: { priority: 'HIGH' } })
  })

  it('calls UNREGISTERED and INVALID_ARGUMENT on the token an invalid token', async () => {
    const client = new FcmClient(settings.fcm!, 5_000)
    services.answerForToken('gone-token', FCM_UNREGISTERED)
    services.answerForToken('bad-token', FCM_INVALID_TOKEN)
    expect(await client.send('gone-token', notification)).toMatchObject({ outcome: 'invalid-token', status: 404 })
    expect(await client.send('bad-token', notification)).toMatchObject({ outcome: 'invalid-token', status: 400 })
  })

  it('calls 429 and 5xx transient, with Retry-After, and other 400s failed', async () => {
    const client = new FcmClient(settings.fcm!, 5_000)
    services.answerNext('fcm', { status: 429, retryAfter: '7', body: { error: { code: 429, status: 'RESOURCE_EXHAUSTED' } } })
    expect(await client.send(fcmToken, notification)).toMatchObject({ outcome: 'transient', status: 429, retryAfterMs: 7000 })
    services.answerNext('fcm', { status: 503, body: { error: { code: 503, status: 'UNAVAILABLE' } } })
    expect(await client.send(fcmToken, notification)).toMatchObject({ outcome: 'transient', status: 503 })
    services.answerNext('fcm', { status: 400, body: { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'bad ttl' } } })
    expect(await client.send(fcmToken, notification)).toMatchObject({ outcome: 'failed', status: 400 })
  })

  it('is transient when the token endpoint or FCM cannot be reached', async () => {
    const client = new FcmClient({ ...settings.fcm!, baseUrl: 'http://127.0.0.1:1' }, 2_000)
    expect(await client.send(fcmToken, notification)).toMatchObject({ outcome: 'transient' })
    const noToken = new FcmClient({ ...settings.fcm!, tokenUrl: 'http://127.0.0.1:1/token' }, 2_000)
    expect(await noToken.send(fcmToken, notification)).toMatchObject({ outcome: 'transient' })
  })

  it('is failed when the token endpoint refuses the key', async () => {
    const client = new FcmClient(settings.fcm!, 5_000)
    services.answerNext('oauth', { status: 400, body: { error: 'invalid_grant' } })
    expect(await client.send(fcmToken, notification)).toMatchObject({ outcome: 'failed' })
  })

  it('retries a 503 and then sends', async () => {
    const client = new FcmClient(settings.fcm!, 5_000)
    services.answerNext('fcm', { status: 503, body: {} })
    services.answerNext('fcm', { status: 500, body: {} })
    const waits: number[] = []
    const { result, attempts } = await withRetries(() => client.send(fcmToken, notification), { maxAttempts: 4, baseMs: 10, maxMs: 50 }, async (ms) => {
      waits.push(ms)
    })
    expect(result.outcome).toBe('sent')
    expect(attempts).toBe(3)
    expect(waits.every((w) => w <= 50)).toBe(true)
  })
})

describe('ApnsClient (HTTP/2)', () => {
  it('sends with a provider token and the topic', async () => {
    const client = new ApnsClient(settings.apns!, 5_000)
    try {
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'sent' })
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'sent' })
      const sent = services.pushesFor(apnsToken).at(-1)?.body as { aps: { alert: { title: string } } }
      expect(sent.aps.alert.title).toBe('New message')
    } finally {
      client.close()
    }
  })

  it('calls 410 and 400 BadDeviceToken invalid, 429/503 transient, 403 failed', async () => {
    const client = new ApnsClient(settings.apns!, 5_000)
    try {
      services.answerForToken('cd'.repeat(32), { status: 410, body: { reason: 'Unregistered', timestamp: Date.now() } })
      expect(await client.send('cd'.repeat(32), notification)).toMatchObject({ outcome: 'invalid-token', status: 410 })
      services.answerNext('apns', { status: 400, body: { reason: 'BadDeviceToken' } })
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'invalid-token', status: 400 })
      services.answerNext('apns', { status: 429, body: { reason: 'TooManyRequests' }, retryAfter: '3' })
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'transient', retryAfterMs: 3000 })
      services.answerNext('apns', { status: 503, body: { reason: 'ServiceUnavailable' } })
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'transient' })
      services.answerNext('apns', { status: 400, body: { reason: 'PayloadTooLarge' } })
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'failed' })
    } finally {
      client.close()
    }
  })

  it('is refused with a provider token of another key', async () => {
    const client = new ApnsClient({ ...settings.apns!, keyId: 'ZZZZZ99999' }, 5_000)
    try {
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'failed', status: 403 })
    } finally {
      client.close()
    }
  })

  it('is transient when APNs cannot be reached', async () => {
    const client = new ApnsClient({ ...settings.apns!, baseUrl: 'http://127.0.0.1:1' }, 2_000)
    try {
      expect(await client.send(apnsToken, notification)).toMatchObject({ outcome: 'transient' })
    } finally {
      client.close()
    }
  })
})

describe('withRetries', () => {
  it('gives up after the attempts and does not wait past the limit', async () => {
    const waits: number[] = []
    const { result, attempts } = await withRetries(
      async () => ({ outcome: 'transient', reason: 'down' }),
      { maxAttempts: 3, baseMs: 100, maxMs: 150 },
      async (ms) => {
        waits.push(ms)
      },
    )
    expect(result.outcome).toBe('transient')
    expect(attempts).toBe(3)
    expect(waits).toHaveLength(2)
    expect(Math.max(...waits)).toBeLessThanOrEqual(150)
  })

  it('stops when the service asks to wait beyond the limit', async () => {
    const { attempts } = await withRetries(async () => ({ outcome: 'transient', reason: 'busy', retryAfterMs: 3_600_000 }), {
      maxAttempts: 5,
      baseMs: 10,
      maxMs: 1_000,
    })
    expect(attempts).toBe(1)
  })
})
