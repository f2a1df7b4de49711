import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { ChannelError, RelayChannel } from '@mediator/relay-channel'
import { connect, envelope, relayFixture, SECRET, sendFrame } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

describe('relay internal channel', () => {
  let f: RelayFixture
  let r: TestRelay

  beforeAll(async () => {
    f = await relayFixture('relay-channel')
    r = await f.start({ MAX_SEND_BYTES: '4096' })
  })
  afterAll(async () => f.cleanup())

  async function walletSocket(marker: string) {
    const c = await connect(r.wsUrl)
    await sendFrame(c.ws, envelope('Anoncrypt', marker))
    const [job] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', marker))
    return { c, socketId: job!.socketId }
  }

  it('writes to wallet sockets and closes them, with the same statuses as the HTTP API, and counts them', async () => {
    const channel = new RelayChannel({ url: r.addr.internalUrl, secret: SECRET })
    try {
      const a = await walletSocket('ch-a')
      const b = await walletSocket('ch-b')
      const statuses = await Promise.all([
        channel.send(a.socketId, 'to-a-1'),
        channel.send(b.socketId, 'to-b'),
        channel.send(a.socketId, 'to-a-2'),
        channel.send('no-such-socket', 'x'),
        channel.send(a.socketId, 'x'.repeat(4097)),
      ])
      expect(statuses).toEqual([200, 200, 200, 404, 413])
      await expect.poll(() => a.c.received).toEqual(['to-a-1', 'to-a-2'])
      await expect.poll(() => b.c.received).toEqual(['to-b'])

      expect(await channel.disconnect(b.socketId, 4000, 'done')).toBe(200)
      expect((await b.c.closed).code).toBe(4000)
      // Closed a moment ago: gone, not unknown.
      expect(await channel.send(b.socketId, 'late')).toBe(410)

      const metrics = await (await r.internal('/metrics')).text()
      expect(metrics).toMatch(/relay_internal_channels\{relay_id="[^"]+"\} 1/)
      expect(metrics).toMatch(/relay_internal_results_total\{op="send",status="200",relay_id="[^"]+"\} 3/)
      a.c.ws.close()
    } finally {
      channel.close()
    }
  })

  it('refuses a channel without the secret', async () => {
    const channel = new RelayChannel({ url: r.addr.internalUrl, secret: 'wrong-secret-0123456789' })
    try {
      await expect(channel.send('any', 'x')).rejects.toMatchObject({ kind: 'connect', message: expect.stringContaining('401') })
    } finally {
      channel.close()
    }
  })

  it('announces its send limit so workers can refuse oversized bodies themselves', async () => {
    const redis = new Redis(f.t.redisUrl)
    try {
      const raw = await redis.hget(f.keys.relays, r.relay.relayId)
      expect(JSON.parse(raw!)).toMatchObject({ maxSendBytes: 4096 })
    } finally {
      redis.disconnect()
    }
  })

  it('drops the channels when the relay closes, and the worker sees that no answer came', async () => {
    const other = await f.start()
    const channel = new RelayChannel({ url: other.addr.internalUrl, secret: SECRET, timeoutMs: 2_000 })
    try {
      expect(await channel.send('nobody', 'x')).toBe(404)
      await other.relay.close()
      const error = await channel.send('nobody', 'x').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ChannelError)
      expect((error as ChannelError).kind).not.toBe('timeout')
    } finally {
      channel.close()
    }
  })
})
