import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { DidKey, Kms, TypedArrayEncoder } from '@credo-ts/core'
import { DidCommBasicMessage, DidCommEnvelopeService, DidCommForwardMessage } from '@credo-ts/didcomm'
import { useClusterScenario } from '../support/cluster-scenario.js'
import type { DeadLetter } from '../support/cluster-probe.js'
import { startSender, startWallet } from '../support/agents.js'
import { waitUntil } from '../support/wait.js'

const b64u = (data: string | Uint8Array) => Buffer.from(data).toString('base64url')
const randomBase58Key = () => TypedArrayEncoder.toBase58(new Uint8Array(randomBytes(32)))

/** A DIDComm v1 envelope that passes every check a relay can make, for a key nobody holds. */
function envelopeForUnknownKey(alg: 'Anoncrypt' | 'Authcrypt'): string {
  const header = {
    enc: 'xchacha20poly1305_ietf',
    typ: 'JWM/1.0',
    alg,
    recipients: [
      {
        encrypted_key: b64u(randomBytes(48)),
        header: {
          kid: randomBase58Key(),
          ...(alg === 'Authcrypt' ? { sender: b64u(randomBytes(80)), iv: b64u(randomBytes(24)) } : {}),
        },
      },
    ],
  }
  return JSON.stringify({
    protected: b64u(JSON.stringify(header)),
    iv: b64u(randomBytes(12)),
    ciphertext: b64u(randomBytes(64)),
    tag: b64u(randomBytes(16)),
  })
}

function ed25519Key(key: string): Kms.PublicJwk<Kms.Ed25519PublicJwk> {
  const jwk = key.startsWith('did:key:')
    ? DidKey.fromDid(key).publicJwk
    : Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(key) })
  if (!jwk.is(Kms.Ed25519PublicJwk)) throw new Error(`${key} is not an Ed25519 key`)
  return jwk
}

async function post(url: string, body: string | Buffer, contentType = 'application/didcomm-envelope-enc') {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body })
  return { status: res.status, text: await res.text() }
}

/** Opens a WebSocket, sends one frame, and reports how the relay ended it (or that it stayed open). */
async function sendFrame(url: string, frame: string | Buffer, binary: boolean): Promise<{ code: number; reason: string } | 'open'> {
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  ws.send(frame, { binary })
  // An accepted frame gets no answer; a ping round trip after it shows the relay read on.
  const pong = new Promise<'open'>((resolve) => ws.once('pong', () => resolve('open')))
  ws.ping()
  const outcome = await Promise.race([closed, pong])
  if (outcome === 'open') {
    ws.close(1000)
    await closed
  }
  return outcome
}

/**
 * Guarantee 5: bad input gets a clear answer and never takes a process down or blocks a wallet.
 * What the relay can judge (not an envelope) is refused at once; what only a worker can judge (not
 * for us, cannot be decrypted, routes nowhere) ends in the dead letters with its reason.
 */
describe('bad input', () => {
  const scenario = useClusterScenario({ label: 'e2e_bad', relays: 1, workers: 1 })

  it('is refused or dead-lettered with a reason, and the worker still serves a wallet', async () => {
    const { cluster, probe } = scenario
    const wallet = (scenario.wallet = await startWallet('bad'))
    const { mediation } = await wallet.obtainMediation(await cluster.invitationUrl())
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)
    const sender = (scenario.sender = await startSender('bad'))
    const connection = await sender.connectTo(wallet)
    const url = cluster.publicHttpUrl
    const wsUrl = cluster.publicWsUrl

    // The relay refuses what is not an envelope, with a problem document.
    const refused = [
      await post(url, 'hello, mediator'),
      await post(url, '{"protected": "eyJhbGciOiJBbm9uY3J5cHQi'),
      await post(url, JSON.stringify({ protected: b64u('{"alg":"ECDH-1PU"}'), iv: '', ciphertext: '', tag: '' })),
      await post(url, Buffer.from([0xff, 0xfe, 0x00, 0x7b])),
      await post(url, ''),
    ]
    for (const r of refused) {
      expect(r.status, r.text).toBe(400)
      expect(JSON.parse(r.text)).toMatchObject({ status: 400, detail: expect.any(String) })
    }
    expect((await post(url, envelopeForUnknownKey('Anoncrypt'), 'text/plain')).status).toBe(415)
    expect(await sendFrame(wsUrl, 'hello, mediator', false)).toMatchObject({ code: 1007 })
    expect(await sendFrame(wsUrl, '{"protected": "eyJhbGciOiJBbm9uY3J5cHQi', false)).toMatchObject({ code: 1007 })
    expect(await sendFrame(wsUrl, Buffer.from([0xff, 0xfe, 0x00, 0x7b]), true)).toMatchObject({ code: 1007 })

    // Envelopes the relay must accept, that only a worker can find wrong.
    const mediatorKey = ed25519Key(mediation.routingKeys[0] ?? '')
    const envelopes = sender.agent.dependencyManager.resolve(DidCommEnvelopeService)
    const context = sender.agent.context
    const forMediator = async (message: DidCommBasicMessage | DidCommForwardMessage) =>
      envelopes.packMessage(context, message, { recipientKeys: [mediatorKey], routingKeys: [], senderKey: null })
    const truncated = await forMediator(new DidCommBasicMessage({ content: 'cut short' }))
    truncated.ciphertext = truncated.ciphertext.slice(0, Math.floor(truncated.ciphertext.length / 2))
    const unroutableTo = randomBase58Key()
    const unroutable = await forMediator(
      new DidCommForwardMessage({ to: unroutableTo, message: JSON.parse(envelopeForUnknownKey('Anoncrypt')) }),
    )
    const poison = {
      httpUnknownAnon: envelopeForUnknownKey('Anoncrypt'),
      httpUnknownAuth: envelopeForUnknownKey('Authcrypt'),
      wsUnknownAnon: envelopeForUnknownKey('Anoncrypt'),
      httpTruncated: JSON.stringify(truncated),
      httpUnroutableForward: JSON.stringify(unroutable),
    }
    // Accepted: 202 (the authcrypted one once the worker answered "no reply" on the held request).
    for (const body of [poison.httpUnknownAnon, poison.httpUnknownAuth, poison.httpTruncated, poison.httpUnroutableForward]) {
      expect((await post(url, body)).status).toBe(202)
    }
    expect(await sendFrame(wsUrl, poison.wsUnknownAnon, true)).toBe('open')

    const deadLetters = await waitUntil(
      'every poison message in the dead letters',
      async () => {
        const found = new Map<string, DeadLetter>()
        for (const d of await probe.deadLetters()) {
          const name = Object.entries(poison).find(([, body]) => body === d.payload)?.[0]
          if (name) found.set(name, d)
        }
        return found.size === Object.keys(poison).length ? found : undefined
      },
      { explain: async () => JSON.stringify(await probe.deadLetters(), null, 1) },
    ).catch(scenario.failWithLogs)
    const reasons: Record<keyof typeof poison, RegExp> = {
      httpUnknownAnon: /recipient key/i,
      httpUnknownAuth: /recipient key/i,
      wsUnknownAnon: /recipient key/i,
      httpTruncated: /decrypt/i,
      httpUnroutableForward: new RegExp(`${unroutableTo}.*no wallet`),
    }
    for (const [name, d] of deadLetters) {
      expect(d.failedReason, name).toMatch(reasons[name as keyof typeof poison])
      expect(d.kind, name).toBe('message')
    }
    const worker = cluster.workers[0]
    if (!worker) throw new Error('no worker')
    expect(await probe.workerMetric(worker, 'mediator_dead_letters_total')).toBeGreaterThanOrEqual(Object.keys(poison).length)

    // Nothing went down, and the same worker still delivers to the wallet.
    for (const p of [...cluster.relays, ...cluster.workers]) expect(p.proc.child.exitCode, p.name).toBeNull()
    await sender.agent.didcomm.basicMessages.sendMessage(connection.id, 'still here')
    await wallet.inbox.waitFor(['still here']).catch(scenario.failWithLogs)
    console.info(
      `bad input dead letters:\n${[...deadLetters].map(([name, d]) => `  ${name}: ${d.failedReason}`).join('\n')}`,
    )
  })
})
