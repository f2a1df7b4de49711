import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { RedisKeys, internalApiPaths, isSocketGone } from '@mediator/contracts'
import { RelayRegistry } from '@mediator/redis'
import { SECRET, connect, envelope, relayEnv, relayFixture, sendFrame, spawnRelay } from './support.js'
import type { RelayFixture, RelayProcess } from './support.js'

describe('two relay processes', () => {
  let f: RelayFixture
  let redis: Redis
  let registry: RelayRegistry
  const procs: RelayProcess[] = []

  beforeAll(async () => {
    f = await relayFixture('relay-two')
    redis = new Redis(f.t.redisUrl)
    registry = new RelayRegistry(redis, new RedisKeys(f.t.prefix))
    const env = relayEnv(f.t.prefix, f.t.redisUrl, { DRAIN_TIMEOUT_MS: '3000' })
    procs.push(...(await Promise.all([spawnRelay({ ...env, RELAY_ID: 'relay-one' }), spawnRelay({ ...env, RELAY_ID: 'relay-two' })])))
  })
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
    redis.disconnect()
    await f.cleanup()
  })

  it('delivers a send to the socket on the relay that holds it, found through the registry', async () => {
    const [one, two] = procs as [RelayProcess, RelayProcess]
    const a = await connect(`ws://127.0.0.1:${one.addr.publicPort}/`)
    const b = await connect(`ws://127.0.0.1:${two.addr.publicPort}/ws`)
    await sendFrame(a.ws, envelope('Anoncrypt', 'wallet-a'))
    await sendFrame(b.ws, envelope('Anoncrypt', 'wallet-b'))
    const [jobA] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'wallet-a'))
    const [jobB] = await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Anoncrypt', 'wallet-b'))
    expect(jobA!.relayId).toBe('relay-one')
    expect(jobB!.relayId).toBe('relay-two')
    expect((await registry.listAlive()).map((x) => x.relayId).sort()).toEqual(['relay-one', 'relay-two'])

    // What a worker does: the job names the relay, the registry names its internal URL.
    for (const [job, client, text] of [
      [jobA!, a, 'to-a'],
      [jobB!, b, 'to-b'],
    ] as const) {
      const relay = await registry.get(job.relayId)
      const got = client.nextMessage()
      const res = await fetch(`${relay!.internalUrl}${internalApiPaths.send(job.socketId)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET}` },
        body: text,
      })
      expect(res.status).toBe(200)
      expect(await got).toBe(text)
    }
    expect(a.received).toEqual(['to-a'])
    expect(b.received).toEqual(['to-b'])

    // The other relay does not know the socket.
    const wrong = await fetch(`${two.addr.internalUrl}${internalApiPaths.send(jobA!.socketId)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
      body: 'x',
    })
    expect(wrong.status).toBe(404)
    expect(isSocketGone(wrong.status)).toBe(true)
    b.ws.close()
    await b.closed

    // SIGTERM: the wallet is told to go elsewhere, the close is reported, the relay leaves the registry.
    one.child.kill('SIGTERM')
    expect((await a.closed).code).toBe(1001)
    expect(await one.exited).toBe(0)
    await f.waitForJobs((j) => j.kind === 'socket-closed' && j.socketId === jobA!.socketId)
    expect(await registry.isAlive('relay-one')).toBe(false)
    expect(await registry.isAlive('relay-two')).toBe(true)
  })
})
