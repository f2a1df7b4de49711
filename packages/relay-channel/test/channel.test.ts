import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { SendStatus } from '@mediator/contracts'
import { ChannelError, RelayChannel, RelayChannelServer, RequestBatch, type ChannelOperations } from '../src/index.js'

const SECRET = 'channel-test-secret'

/** A relay's internal listener reduced to the channel, with operations that record what they were asked. */
class FakeRelayListener {
  public readonly calls: string[] = []
  public readonly errors: Error[] = []
  public statusFor = new Map<string, number>()
  public channels: RelayChannelServer
  private constructor(
    private readonly server: Server,
    public readonly url: string,
    private readonly operations: ChannelOperations,
    private readonly maxSendBytes: number,
  ) {
    this.channels = this.channelServer()
    server.on('upgrade', (req, socket, head) => this.channels.handleUpgrade(req, socket, head))
  }

  /** Drops every channel as a relay restart on the same address would, and takes new ones. */
  public restartChannels(): void {
    this.channels.close()
    this.channels = this.channelServer()
  }

  private channelServer(): RelayChannelServer {
    return new RelayChannelServer({
      operations: this.operations,
      authorize: (header) => header === `Bearer ${SECRET}`,
      maxSendBytes: this.maxSendBytes,
      onError: (error) => this.errors.push(error),
    })
  }

  public static async start(maxSendBytes = 1024): Promise<FakeRelayListener> {
    const server = createServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const box: { relay?: FakeRelayListener } = {}
    const relay = new FakeRelayListener(
      server,
      url,
      {
        send: (socketId, body) => {
          const l = box.relay as FakeRelayListener
          l.calls.push(`send ${socketId} ${body.toString('utf8')}`)
          // The relay goes away while it handles this call: its answer never leaves.
          if (socketId === 'relay-dies-here') l.restartChannels()
          // The whole process stalls (a long GC, a frozen container) while this call is handled.
          if (socketId === 'process-stalls') {
            const until = Date.now() + 400
            while (Date.now() < until) {
              // busy: nothing else in this process runs
            }
          }
          return l.statusFor.get(socketId) ?? SendStatus.Written
        },
        disconnect: (socketId, code, reason) => {
          const l = box.relay as FakeRelayListener
          l.calls.push(`disconnect ${socketId} ${code} ${reason}`)
          if (socketId === 'explodes') throw new Error('boom')
          return l.statusFor.get(socketId) ?? SendStatus.Written
        },
      },
      maxSendBytes,
    )
    box.relay = relay
    return relay
  }

  public close(): Promise<void> {
    this.channels.close()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setUp(opts: { maxSendBytes?: number; timeoutMs?: number } = {}) {
  const relay = await FakeRelayListener.start(opts.maxSendBytes)
  const channel = new RelayChannel({ url: relay.url, secret: SECRET, timeoutMs: opts.timeoutMs ?? 2_000 })
  cleanups.push(() => relay.close(), () => channel.close())
  return { relay, channel }
}

describe('relay channel', () => {
  it('answers each call with the status of its operation, in the order the worker made them', async () => {
    const { relay, channel } = await setUp()
    relay.statusFor.set('gone', SendStatus.Gone)
    relay.statusFor.set('busy', SendStatus.Unavailable)
    const statuses = await Promise.all([
      channel.send('a', 'one'),
      channel.send('gone', 'two'),
      channel.disconnect('a', 4000, 'done'),
      channel.send('busy', Buffer.from('three')),
    ])
    expect(statuses).toEqual([200, 410, 200, 503])
    expect(relay.calls).toEqual(['send a one', 'send gone two', 'disconnect a 4000 done', 'send busy three'])
    expect(relay.channels.size).toBe(1)
    // Later calls reuse the same connection.
    expect(await channel.send('a', 'four')).toBe(200)
    expect(relay.channels.size).toBe(1)
  })

  it('answers bad calls with 400 and 413 and keeps the channel for the next ones', async () => {
    const { relay, channel } = await setUp({ maxSendBytes: 16 })
    expect(await channel.send('a', '')).toBe(400)
    expect(await channel.send('a', 'x'.repeat(17))).toBe(413)
    expect(await channel.send('', 'x')).toBe(400)
    expect(await channel.disconnect('a', 1006)).toBe(400)
    expect(await channel.disconnect('a', 1000, 'r'.repeat(121))).toBe(400)
    expect(await channel.disconnect('explodes')).toBe(500)
    expect(relay.errors.map((e) => e.message)).toEqual(['boom'])
    expect(await channel.send('a', 'x'.repeat(16))).toBe(200)
    expect(relay.calls).toEqual(['disconnect explodes 1000 ', `send a ${'x'.repeat(16)}`])
  })

  it('splits a burst into batches under the size limit and answers every call', async () => {
    const { relay } = await setUp()
    const channel = new RelayChannel({ url: relay.url, secret: SECRET, maxBatchBytes: 200 })
    cleanups.push(() => channel.close())
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => channel.send(`s${i}`, 'y'.repeat(40))))
    expect(statuses).toEqual(Array(50).fill(200))
    expect(relay.calls).toHaveLength(50)
    expect(relay.calls[49]).toBe(`send s49 ${'y'.repeat(40)}`)
  })

  it('rejects with a connect error when the secret is wrong or nothing listens', async () => {
    const { relay } = await setUp()
    const wrongSecret = new RelayChannel({ url: relay.url, secret: 'wrong' })
    cleanups.push(() => wrongSecret.close())
    await expect(wrongSecret.send('a', 'x')).rejects.toMatchObject({ kind: 'connect', message: expect.stringContaining('401') })
    expect(relay.calls).toEqual([])
    await relay.close()
    const nobody = new RelayChannel({ url: relay.url, secret: SECRET })
    cleanups.push(() => nobody.close())
    await expect(nobody.send('a', 'x')).rejects.toBeInstanceOf(ChannelError)
  })

  it('refuses an upgrade on any other path', async () => {
    const { relay } = await setUp()
    const ws = new WebSocket(`${relay.url.replace('http', 'ws')}/sockets`, { headers: { authorization: `Bearer ${SECRET}` } })
    const status = await new Promise<number | undefined>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode))
      ws.on('error', () => resolve(undefined))
    })
    expect(status).toBe(404)
  })

  it('fails the calls in flight when the relay drops the channel', async () => {
    const { channel } = await setUp()
    expect(await channel.send('a', 'first')).toBe(200)
    const [lost, alsoLost] = await Promise.allSettled([channel.send('relay-dies-here', 'x'), channel.send('b', 'y')])
    expect(lost).toMatchObject({ status: 'rejected', reason: { kind: 'closed' } })
    // No answer for the rest of the batch either: whether it was written is unknown, so the caller keeps its message.
    expect(alsoLost).toMatchObject({ status: 'rejected', reason: { kind: 'closed' } })
  })

  it('opens a new connection after the relay dropped the channel', async () => {
    const { relay, channel } = await setUp()
    expect(await channel.send('a', 'first')).toBe(200)
    relay.restartChannels()
    await new Promise((r) => setTimeout(r, 50))
    expect(relay.channels.size).toBe(0)
    expect(await channel.send('a', 'second')).toBe(200)
    expect(relay.channels.size).toBe(1)
    expect(relay.calls).toEqual(['send a first', 'send a second'])
  })

  it('gives up on a relay that stops answering, and the next call opens a new connection', async () => {
    // A peer that accepts the channel and then never answers.
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise((r) => silent.once('listening', r))
    let connections = 0
    silent.on('connection', () => connections++)
    cleanups.push(() => new Promise((r) => silent.close(r)))
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
    const channel = new RelayChannel({ url, secret: SECRET, timeoutMs: 300 })
    cleanups.push(() => channel.close())
    const started = Date.now()
    const results = await Promise.allSettled([channel.send('a', 'x'), channel.send('b', 'y')])
    expect(results.map((r) => r.status === 'rejected' && (r.reason as ChannelError).kind)).toEqual(['timeout', 'timeout'])
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    await expect(channel.send('c', 'z')).rejects.toMatchObject({ kind: 'timeout' })
    expect(connections).toBe(2)
  })

  it('takes an answer that waited in the socket during a stall for an answer, not for a timeout', async () => {
    const { channel } = await setUp({ timeoutMs: 200 })
    // The answer is written while the deadline passes; the timer runs before the socket is read.
    expect(await channel.send('process-stalls', 'x')).toBe(200)
  })

  it('closes a channel that sends malformed frames, and reports it', async () => {
    const { relay } = await setUp()
    const ws = new WebSocket(`${relay.url.replace('http', 'ws')}/channel`, { headers: { authorization: `Bearer ${SECRET}` } })
    await new Promise((r) => ws.once('open', r))
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    const batch = new RequestBatch()
    batch.add({ op: 'send', requestId: 1, socketId: 'a', body: 'x' })
    ws.send(batch.toBuffer().subarray(0, 6))
    expect(await closed).toBe(1002)
    expect(relay.errors[0]?.message).toMatch(/frame length/)
    expect(relay.calls).toEqual([])
  })

  it('cannot be used after close', async () => {
    const { channel } = await setUp()
    channel.close()
    await expect(channel.send('a', 'x')).rejects.toMatchObject({ kind: 'closed' })
  })
})
