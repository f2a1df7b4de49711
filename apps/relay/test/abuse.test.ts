import { connect as tcpConnect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { internalApiPaths } from '@mediator/contracts'
import { connect, envelope, relayFixture, sendFrame } from './support.js'
import type { RelayFixture, TestClient, TestRelay } from './support.js'

/** Sends raw bytes to the public port and returns the first line of the answer. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => s.write(bytes))
    let data = ''
    s.on('data', (d) => (data += d.toString('latin1')))
    s.on('error', reject)
    s.on('close', () => resolve(data.split('\r\n', 1)[0] ?? ''))
  })
}

describe('relay under bad input', () => {
  let f: RelayFixture
  let r: TestRelay
  let bystander: TestClient
  let bystanderId: string

  beforeAll(async () => {
    f = await relayFixture('relay-abuse')
    r = await f.start({ SOCKET_RATE_LIMIT_PER_SEC: '20', SOCKET_RATE_LIMIT_BURST: '50' })
    bystander = await connect(r.wsUrl)
    await sendFrame(bystander.ws, envelope('Anoncrypt', 'bystander'))
    const [job] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'bystander'))
    bystanderId = job!.socketId
  })
  afterAll(async () => f.cleanup())

  /** After each abuse, another wallet still sends and receives. */
  async function everyoneElseIsServed(marker: string): Promise<void> {
    await sendFrame(bystander.ws, envelope('Anoncrypt', marker))
    await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', marker))
    const next = bystander.nextMessage()
    const res = await r.internal(internalApiPaths.send(bystanderId), { method: 'POST', body: `reply-${marker}` })
    expect(res.status).toBe(200)
    expect(await next).toBe(`reply-${marker}`)
  }

  it('closes with 1007 on a binary frame that is not UTF-8', async () => {
    const c = await connect(r.wsUrl)
    await sendFrame(c.ws, Buffer.from([0xc3, 0x28, 0xff]), true)
    expect((await c.closed).code).toBe(1007)
    await everyoneElseIsServed('after-binary')
  })

  it('closes with 1007 on a text frame that is not UTF-8', async () => {
    const c = await connect(r.wsUrl)
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
    expect((await c.closed).code).toBe(1007)
    await everyoneElseIsServed('after-text')
  })

  it('closes with 1007 on a frame that is not a DIDComm envelope', async () => {
    const c = await connect(r.wsUrl)
    await sendFrame(c.ws, '{"hello":"world"}')
    const closed = await c.closed
    expect(closed.code).toBe(1007)
    expect(closed.reason).toMatch(/not a DIDComm envelope/)
    await everyoneElseIsServed('after-json')
  })

  it('closes with 1009 on a 10 MiB frame', async () => {
    const c = await connect(r.wsUrl)
    c.ws.send(Buffer.alloc(10 * 1024 * 1024, 0x61))
    expect((await c.closed).code).toBe(1009)
    await everyoneElseIsServed('after-big')
  })

  it('answers garbage upgrade requests with an HTTP error', async () => {
    const port = r.addr.publicPort
    expect(
      await rawRequest(port, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
    ).toMatch(/^HTTP\/1\.1 400/)
    expect(
      await rawRequest(
        port,
        'GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    ).toMatch(/^HTTP\/1\.1 404/)
    expect(await rawRequest(port, '\x16\x03\x01\x00\xa5garbage\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    await everyoneElseIsServed('after-garbage')
  })

  it('closes a socket sending 1,000 messages a second with 1008 and keeps serving the others', async () => {
    const flooder = await connect(r.wsUrl)
    const frame = envelope('Anoncrypt', 'flood')
    for (let i = 0; i < 1000 && flooder.ws.readyState === flooder.ws.OPEN; i++) flooder.ws.send(frame)
    const closed = await flooder.closed
    expect(closed.code).toBe(1008)
    await everyoneElseIsServed('after-flood')
    // Frames read before the limit tripped are still stored, ahead of the socket-closed job.
    await f.waitForJobs((j) => j.kind === 'socket-closed' && j.code === 1008)
    const flood = (await f.jobs()).filter((j) => j.data.kind === 'message' && j.data.payload === frame)
    // The burst got through, the rest was refused rather than queued without bound.
    expect(flood.length).toBeGreaterThanOrEqual(50)
    expect(flood.length).toBeLessThan(1000)
    const metrics = await (await r.internal('/metrics')).text()
    expect(metrics).toMatch(/relay_messages_rejected_total\{transport="ws",reason="rate_limited",relay_id="[^"]+"\} 1/)
  })
})
