import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Kms, TypedArrayEncoder } from '@credo-ts/core'
import {
  DidCommAttachment,
  DidCommEnvelopeService,
  DidCommMessageDeliveryV2Message,
  type QueuedDidCommMessage,
} from '@credo-ts/didcomm'
import {
  EnvelopePacker,
  FastDeliveryPacker,
  deliveryMessageJson,
  openEnvelopeBody,
  openSenderKey,
  PeerKeyCache,
  readProtectedHeader,
  type EnvelopeJson,
} from '../../src/forward/index.js'
import { newEd25519, startReferenceMediator, type ReferenceMediator } from './support.js'

describe('fast delivery packer', () => {
  let m: ReferenceMediator
  let sender: { publicKey: string; keyId: string }

  beforeAll(async () => {
    m = await startReferenceMediator('fwd_packer')
    const key = await m.kms.createKey(m.ctx, { type: { kty: 'OKP', crv: 'Ed25519' } })
    sender = { publicKey: TypedArrayEncoder.toBase58(Buffer.from(key.publicJwk.x, 'base64url')), keyId: key.keyId }
  })
  afterAll(async () => {
    await m?.close()
  })

  const queued = (n: number): QueuedDidCommMessage[] =>
    Array.from({ length: n }, (_, i) => ({
      id: randomUUID(),
      receivedAt: new Date(1_700_000_000_000 + i),
      encryptedMessage: { protected: 'e30', iv: `iv${i}`, ciphertext: `c${i}`, tag: `t${i}` },
    }))

  it('builds the same delivery JSON as Credo', () => {
    const messages = queued(3)
    const credo = new DidCommMessageDeliveryV2Message({
      attachments: messages.map(
        (q) => new DidCommAttachment({ id: q.id, lastmodTime: q.receivedAt, data: { json: q.encryptedMessage } }),
      ),
    })
    credo.id = 'delivery-0001'
    const ours = deliveryMessageJson(messages, 'delivery-0001')
    expect(JSON.stringify(ours)).toBe(JSON.stringify(credo.toJSON({ useDidSovPrefixWhereAllowed: false })))
  })

  it('packs an authcrypt envelope that Credo unpacks, from our key, with the messages inside', async () => {
    const wallet = newEd25519()
    // Credo finds a recipient key whose KMS id is its base58 (the legacy key id) without any record.
    await m.kms.importKey(m.ctx, { privateJwk: { ...wallet.privateJwk, kid: wallet.base58 } })
    const messages = queued(2)
    const packed = await new FastDeliveryPacker(new EnvelopePacker(m.kms)).packDelivery(m.ctx, messages, {
      recipientKeys: [wallet.base58],
      senderKey: sender.publicKey,
      senderKeyId: sender.keyId,
    })
    const unpacked = await m.agent.context.resolve(DidCommEnvelopeService).unpackMessage(m.ctx, packed)
    expect(TypedArrayEncoder.toBase58(unpacked.senderKey?.publicKey.publicKey ?? new Uint8Array())).toBe(sender.publicKey)
    const plaintext = unpacked.plaintextMessage as ReturnType<typeof deliveryMessageJson>
    expect(plaintext['@type']).toBe('https://didcomm.org/messagepickup/2.0/delivery')
    expect(plaintext['~attach'].map((a) => a.data.json)).toEqual(messages.map((q) => q.encryptedMessage))
  })

  it('seals our key once per wallet, and every envelope still unpacks in Credo with fresh key boxes', async () => {
    const [a, b] = [newEd25519(), newEd25519()]
    for (const w of [a, b]) await m.kms.importKey(m.ctx, { privateJwk: { ...w.privateJwk, kid: w.base58 } })
    const packer = new FastDeliveryPacker(new EnvelopePacker(m.kms))
    const keysFor = (w: { base58: string }) => ({ recipientKeys: [w.base58], senderKey: sender.publicKey, senderKeyId: sender.keyId })
    const envelopes = [
      await packer.packDelivery(m.ctx, queued(1), keysFor(a)),
      await packer.packDelivery(m.ctx, queued(1), keysFor(a)),
      await packer.packDelivery(m.ctx, queued(1), keysFor(b)),
    ]
    for (const packed of envelopes) {
      const unpacked = await m.agent.context.resolve(DidCommEnvelopeService).unpackMessage(m.ctx, packed)
      expect(TypedArrayEncoder.toBase58(unpacked.senderKey?.publicKey.publicKey ?? new Uint8Array())).toBe(sender.publicKey)
    }
    const recipients = envelopes.map((e) => readProtectedHeader(e as EnvelopeJson)?.recipients[0])
    expect(recipients[1]?.header.sender).toBe(recipients[0]?.header.sender)
    expect(recipients[2]?.header.sender).not.toBe(recipients[0]?.header.sender)
    expect(recipients[1]?.encrypted_key).not.toBe(recipients[0]?.encrypted_key)
    expect(recipients[1]?.header.iv).not.toBe(recipients[0]?.header.iv)
  })

  it('opens what Credo packs (the wallet side of the benchmark relies on it)', async () => {
    const wallet = newEd25519()
    await m.kms.importKey(m.ctx, { privateJwk: { ...wallet.privateJwk, kid: wallet.base58 } })
    const credoPacked = (await m.agent.context.resolve(DidCommEnvelopeService).packMessage(
      m.ctx,
      new DidCommMessageDeliveryV2Message({ attachments: [] }),
      {
        recipientKeys: [publicJwk(wallet.base58)],
        routingKeys: [],
        senderKey: Object.assign(publicJwk(sender.publicKey), { keyId: sender.keyId }),
      },
    )) as EnvelopeJson
    const recipient = readProtectedHeader(credoPacked)?.recipients[0]
    if (!recipient) throw new Error('no recipient')
    const from = await openSenderKey(m.kms, m.ctx, recipient, wallet.base58)
    expect(from).toBe(sender.publicKey)
    const body = await openEnvelopeBody(m.kms, m.ctx, credoPacked, recipient, wallet.base58, new PeerKeyCache().get(from).x25519)
    expect(JSON.parse(Buffer.from(body).toString('utf8'))['@type']).toBe('https://didcomm.org/messagepickup/2.0/delivery')
  })
})

function publicJwk(base58: string) {
  return Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: TypedArrayEncoder.fromBase58(base58) })
}
