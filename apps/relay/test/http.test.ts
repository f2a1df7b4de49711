import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { internalApiPaths } from '@mediator/contracts'
import type { InboundMessageJob } from '@mediator/contracts'
import { envelope, relayFixture } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

const DIDCOMM = { 'content-type': 'application/didcomm-envelope-enc' }

describe('relay over HTTP POST', () => {
  let f: RelayFixture
  let r: TestRelay

  beforeAll(async () => {
    f = await relayFixture('relay-http')
    r = await f.start({ RETURN_ROUTE_TIMEOUT_MS: '300', FORWARD_HEADERS: 'x-forwarded-for' })
  })
  afterAll(async () => f.cleanup())

  const heldJob = async (marker: string) =>
    (await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope('Authcrypt', marker)))[0] as InboundMessageJob

  it('answers 202 to an anoncrypted forward once its job is stored', async () => {
    for (const type of ['application/didcomm-envelope-enc', 'application/ssi-agent-wire', 'application/json']) {
      const body = envelope('Anoncrypt', type)
      const res = await fetch(r.httpUrl, { method: 'POST', headers: { 'content-type': type, 'x-forwarded-for': '1.2.3.4' }, body })
      expect(res.status).toBe(202)
      expect(await res.text()).toBe('')
      // The job exists by the time 202 arrives: no waiting needed.
      const jobs = (await f.jobs()).map((j) => j.data).filter((j) => j.kind === 'message' && j.payload === body)
      expect(jobs).toHaveLength(1)
      expect(jobs[0]).toMatchObject({ transport: 'http', replyExpected: false, headers: { 'x-forwarded-for': '1.2.3.4' } })
    }
  })

  it('gives each acknowledged POST a later place than the one acknowledged before it', async () => {
    const seqs: number[] = []
    for (const [alg, marker] of [['Anoncrypt', 'order-1'], ['Anoncrypt', 'order-2'], ['Authcrypt', 'order-3']] as const) {
      const pending = fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope(alg, marker) })
      const [job] = (await f.waitForJobs((j) => j.kind === 'message' && j.payload === envelope(alg, marker))) as InboundMessageJob[]
      expect(job!.order?.barrier).toBe(alg === 'Anoncrypt')
      seqs.push(job!.order!.seq)
      if (alg === 'Authcrypt') await r.internal(internalApiPaths.disconnect(job!.socketId), { method: 'POST' })
      expect((await pending).status).toBe(202)
    }
    expect(seqs[1]! - seqs[0]!).toBeGreaterThan(0)
    expect(seqs[2]! - seqs[1]!).toBeGreaterThan(0)
  })

  it('holds an authcrypted POST until the mediator sends the reply', async () => {
    const pending = fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Authcrypt', 'ask') })
    const job = await heldJob('ask')
    expect(job.replyExpected).toBe(true)
    const send = await r.internal(internalApiPaths.send(job.socketId), { method: 'POST', body: envelope('Authcrypt', 'answer') })
    expect(send.status).toBe(200)
    const res = await pending
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/didcomm-envelope-enc')
    expect(await res.text()).toBe(envelope('Authcrypt', 'answer'))
    // Answered once: a second send finds it gone.
    const again = await r.internal(internalApiPaths.send(job.socketId), { method: 'POST', body: 'x' })
    expect(again.status).toBe(410)
  })

  it('answers a held POST 202 with no body when the mediator says "no reply"', async () => {
    const pending = fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Authcrypt', 'no-reply') })
    const job = await heldJob('no-reply')
    const disc = await r.internal(internalApiPaths.disconnect(job.socketId), { method: 'POST' })
    expect(disc.status).toBe(200)
    const res = await pending
    expect(res.status).toBe(202)
    expect(await res.text()).toBe('')
  })

  it('answers a held POST 202 when nobody answers before the timeout', async () => {
    const res = await fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Authcrypt', 'timeout') })
    expect(res.status).toBe(202)
    const job = await heldJob('timeout')
    const late = await r.internal(internalApiPaths.send(job.socketId), { method: 'POST', body: 'late' })
    expect(late.status).toBe(410)
  })

  it('refuses what is not a DIDComm envelope with a problem body, and stores nothing', async () => {
    const before = (await f.jobs()).length
    const cases: Array<{ body: string | Uint8Array; type: string; status: number; detail: RegExp }> = [
      { body: '{not json', type: 'application/json', status: 400, detail: /not JSON/ },
      { body: '{"hello":"world"}', type: 'application/json', status: 400, detail: /not a DIDComm envelope/ },
      {
        body: JSON.stringify({ protected: 'bm90LWpzb24', iv: '', ciphertext: '', tag: '' }),
        type: 'application/json',
        status: 400,
        detail: /protected header/,
      },
      { body: new Uint8Array([0xff, 0xfe, 0x7b]), type: 'application/json', status: 400, detail: /UTF-8/ },
      { body: '', type: 'application/json', status: 400, detail: /empty/ },
      { body: envelope('Anoncrypt'), type: 'text/plain', status: 415, detail: /application\/didcomm-envelope-enc/ },
    ]
    for (const c of cases) {
      const res = await fetch(r.httpUrl, { method: 'POST', headers: { 'content-type': c.type }, body: c.body })
      expect(res.status, String(c.body)).toBe(c.status)
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/)
      const problem = (await res.json()) as { status: number; detail: string }
      expect(problem.status).toBe(c.status)
      expect(problem.detail).toMatch(c.detail)
    }
    expect((await f.jobs()).length).toBe(before)
  })

  it('answers 413 to a 10 MiB body and keeps serving others', async () => {
    const big = 'a'.repeat(10 * 1024 * 1024)
    const res = await fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: big })
    expect(res.status).toBe(413)
    const ok = await fetch(r.httpUrl, { method: 'POST', headers: DIDCOMM, body: envelope('Anoncrypt', 'after-big') })
    expect(ok.status).toBe(202)
  })

  it('counts accepted and rejected messages in /metrics', async () => {
    const res = await r.internal('/metrics')
    const text = await res.text()
    expect(text).toMatch(/relay_messages_accepted_total\{transport="http",relay_id="[^"]+"\} [1-9]/)
    expect(text).toMatch(/relay_messages_rejected_total\{transport="http",reason="too_large",relay_id="[^"]+"\} 1/)
    expect(text).toMatch(/relay_job_add_seconds_bucket/)
    expect(text).toMatch(/relay_internal_results_total\{op="send",status="410"/)
  })
})
