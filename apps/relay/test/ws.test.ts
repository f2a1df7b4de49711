import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { internalApiPaths } from '@mediator/contracts'
import type { InboundMessageJob } from '@mediator/contracts'
import { connect, envelope, relayFixture, sendFrame } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

describe('relay over WebSocket', () => {
  let f: RelayFixture
  let r: TestRelay

  beforeAll(async () => {
    f = await relayFixture('relay-ws')
    r = await f.start({ FORWARD_HEADERS: 'X-Wallet-Version, x-forwarded-for' })
  })
  afterAll(async () => f.cleanup())

  it('turns each frame into exactly one job, in order, then reports the close', async () => {
    const c = await connect(r.wsUrl, { headers: { 'x-wallet-version': '1.2.3', 'x-other': 'no' } })
    // Credo sends binary frames; text frames must work too.
    for (let i = 0; i < 5; i++) await sendFrame(c.ws, envelope('Authcrypt', `m${i}`), i % 2 === 0)
    const messages = (await f.waitForJobs((j) => j.kind === 'message' && j.payload.includes('"tag"'), 5)).filter(
      (j): j is InboundMessageJob => j.kind === 'message',
    )
    const socketId = messages[0]!.socketId
    c.ws.close(1000)
    await f.waitForJobs((j) => j.kind === 'socket-closed' && j.socketId === socketId)

    const mine = (await f.jobs()).map((j) => j.data).filter((j) => j.socketId === socketId)
    expect(mine.map((j) => j.kind)).toEqual(['message', 'message', 'message', 'message', 'message', 'socket-closed'])
    const payloads = mine.filter((j): j is InboundMessageJob => j.kind === 'message').map((j) => j.payload)
    expect(payloads).toEqual([0, 1, 2, 3, 4].map((i) => envelope('Authcrypt', `m${i}`)))
    const first = mine[0] as InboundMessageJob
    expect(first).toMatchObject({
      relayId: r.relay.relayId,
      transport: 'ws',
      replyExpected: false,
      headers: { 'x-wallet-version': '1.2.3' },
    })
    expect(mine[5]).toMatchObject({ kind: 'socket-closed', code: 1000 })
    // Each frame takes the next place in the deployment's order; an authcrypted one (a wallet's own
    // message, answered to it alone) holds no other delivery back.
    const places = mine.filter((j): j is InboundMessageJob => j.kind === 'message').map((j) => j.order)
    expect(places.every((p) => p?.barrier === false)).toBe(true)
    expect(places.map((p) => p!.seq - places[0]!.seq)).toEqual([0, 1, 2, 3, 4])
    // The job id is the message id, so a retried add cannot make a second job.
    const job = await f.reader.getJob(first.messageId)
    expect(job?.name).toBe('message')
    expect(job?.opts.attempts).toBe(10)
  })

  it('stores no job for a socket that never sent a frame', async () => {
    // Nothing a worker does hangs on such a socket; in a reconnect storm most sockets given up on by
    // their wallets are such, and a job for each would bury the requests of those that reconnected.
    const own = await f.start()
    const silent = await connect(own.wsUrl)
    silent.ws.close(1000)
    await silent.closed
    const speaking = await connect(own.wsUrl)
    await sendFrame(speaking.ws, envelope('Authcrypt', 'spoke'))
    const [message] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Authcrypt', 'spoke'))
    speaking.ws.close(1000)
    await f.waitForJobs((j) => j.kind === 'socket-closed' && j.socketId === message!.socketId)
    // The silent socket closed first; jobs are stored in order per socket and it had none in flight.
    const ofRelay = (await f.jobs()).map((j) => j.data).filter((j) => j.relayId === own.relay.relayId)
    expect(ofRelay.map((j) => [j.kind, j.socketId])).toEqual([
      ['message', message!.socketId],
      ['socket-closed', message!.socketId],
    ])
  })

  it('registers an anoncrypted frame as open until a worker has processed it', async () => {
    const c = await connect(r.wsUrl)
    await sendFrame(c.ws, envelope('Anoncrypt', 'ws-forward'))
    const [job] = (await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'ws-forward'))) as InboundMessageJob[]
    expect(job!.order).toMatchObject({ barrier: true })
    expect(await f.orderOpen()).toContain(job!.messageId)
    c.ws.close(1000)
  })

  it('writes a send to the right socket as a text frame, then answers 410 once it closed and 404 for an unknown id', async () => {
    const a = await connect(r.wsUrl)
    const b = await connect(r.wsUrl)
    const [openedA, openedB] = await Promise.all([
      (async () => {
        await sendFrame(a.ws, envelope('Anoncrypt', 'from-a'))
        return (await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'from-a')))[0]!
      })(),
      (async () => {
        await sendFrame(b.ws, envelope('Anoncrypt', 'from-b'))
        return (await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'from-b')))[0]!
      })(),
    ])
    let isBinary: boolean | undefined
    a.ws.once('message', (_d, binary) => (isBinary = binary))
    const got = a.nextMessage()
    const res = await r.internal(internalApiPaths.send(openedA.socketId), {
      method: 'POST',
      headers: { 'content-type': 'application/didcomm-envelope-enc' },
      body: envelope('Authcrypt', 'reply-to-a'),
    })
    expect(res.status).toBe(200)
    expect(await got).toBe(envelope('Authcrypt', 'reply-to-a'))
    expect(isBinary).toBe(false)
    expect(b.received).toEqual([])

    b.ws.close()
    await b.closed
    await f.waitForJobs((j) => j.kind === 'socket-closed' && j.socketId === openedB.socketId)
    const gone = await r.internal(internalApiPaths.send(openedB.socketId), { method: 'POST', body: 'x' })
    expect(gone.status).toBe(410)
    const unknown = await r.internal(internalApiPaths.send('no-such-socket'), { method: 'POST', body: 'x' })
    expect(unknown.status).toBe(404)

    const disc = await r.internal(internalApiPaths.disconnect(openedA.socketId), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 4000, reason: 'bye' }),
    })
    expect(disc.status).toBe(200)
    expect(await a.closed).toEqual({ code: 4000, reason: 'bye' })
    const closedJob = await f.waitForJobs((j) => j.kind === 'socket-closed' && j.socketId === openedA.socketId)
    expect(closedJob[0]).toMatchObject({ code: 4000, reason: 'bye' })
  })

  it('answers 413 to a send larger than the limit', async () => {
    const small = await f.start({ MAX_MESSAGE_BYTES: '2048' })
    const c = await connect(small.wsUrl)
    await sendFrame(c.ws, envelope('Anoncrypt', 'small'))
    const [job] = await f.waitForJobs((j) => j.kind === 'message' && j.relayId === small.relay.relayId)
    const res = await small.internal(internalApiPaths.send(job!.socketId), { method: 'POST', body: 'x'.repeat(4096) })
    expect(res.status).toBe(413)
    c.ws.close()
  })

  it('answers 503 while a socket send buffer is over its limit', async () => {
    const tight = await f.start({ SEND_BUFFER_LIMIT_BYTES: '0', MAX_MESSAGE_BYTES: String(2 * 1024 * 1024) })
    const c = await connect(tight.wsUrl)
    await sendFrame(c.ws, envelope('Anoncrypt', 'slow-reader'))
    const [job] = await f.waitForJobs((j) => j.kind === 'message' && j.relayId === tight.relay.relayId)
    // The wallet stops reading: kernel buffers fill, then ws buffers, then the relay says 503.
    c.ws.pause()
    const chunk = 'y'.repeat(1024 * 1024)
    const statuses: number[] = []
    for (let i = 0; i < 64 && !statuses.includes(503); i++) {
      const res = await tight.internal(internalApiPaths.send(job!.socketId), { method: 'POST', body: chunk })
      statuses.push(res.status)
    }
    expect(statuses.at(-1)).toBe(503)
    expect(statuses.slice(0, -1).every((s) => s === 200)).toBe(true)
    c.ws.terminate()
  })

  it('terminates a peer that stops answering pings and reports it closed', async () => {
    const fast = await f.start({ HEARTBEAT_INTERVAL_MS: '200' })
    const silent = await connect(fast.wsUrl, { autoPong: false })
    const healthy = await connect(fast.wsUrl)
    await sendFrame(silent.ws, envelope('Anoncrypt', 'silent'))
    const [job] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'silent'))
    const closed = await f.waitForJobs((j) => j.kind === 'socket-closed' && j.socketId === job!.socketId)
    expect(closed[0]).toMatchObject({ code: 1006, reason: 'heartbeat timeout' })
    expect((await silent.closed).code).toBe(1006)
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN)
    healthy.ws.close()
  })
})
