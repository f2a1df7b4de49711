/**
 * `npm run bench:kms`: what this KMS costs on the DIDComm v1 hot path, against raw sodium-native.
 *
 * Measured, for a ~1 KB basic message, in one run:
 * - unpack (anoncrypt, one recipient: a forward as the mediator receives it) and
 * - pack (authcrypt, one recipient, sender key in the KMS),
 * each four ways:
 * - `kms`:   the exact sequence of KeyManagementService calls Credo's DidCommEnvelopeService makes,
 *            with the option objects it builds, called on our backend (the figure the goal is about);
 * - `floor`: the same cryptography done directly on sodium-native, keys already converted;
 * - `api`:   the same calls through Credo's KeyManagementApi (adds Credo's zod validation);
 * - `credo`: DidCommEnvelopeService.unpackMessage / packMessage end to end (adds Credo's header
 *            handling, base58, Ed25519→X25519 conversion in JS and the recipient-key lookup).
 * Only kms vs floor is ours to fix; api and credo show where the rest of the time goes.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { JsonEncoder, Kms, TypedArrayEncoder } from '@credo-ts/core'
import { DidCommBasicMessage, type DidCommEncryptedMessage } from '@credo-ts/didcomm'
import { createTestSchema } from '@mediator/test-support'
import sodiumNative from 'sodium-native'
import { SodiumKeyManagementService } from '../src/index.js'
import { sodium } from '../src/sodium.js'
import { createCredoHarness } from '../test/support/credo-agent.js'
import { base58Encode } from '../test/support/base58.js'
import { contextFor, randomMasterKey } from '../test/support/fixture.js'

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1000)
/** Contenders take turns in slices this long, so load from other processes hits them alike. */
const SLICE_MS = 50

type Op = () => unknown

async function runFor(op: Op, ms: number): Promise<{ ops: number; ms: number }> {
  const start = performance.now()
  const end = start + ms
  let ops = 0
  // Check the clock every 16 ops so timing does not weigh on the synchronous floor.
  while (true) {
    for (let i = 0; i < 16; i++) {
      const r = op()
      if (r instanceof Promise) await r
    }
    ops += 16
    const now = performance.now()
    if (now >= end) return { ops, ms: now - start }
  }
}

interface Measured {
  /** Median over rounds of each contender's ops per second. */
  perSecond: Record<string, number>
  /** Median over rounds of floor_rate / contender_rate - 1, in percent (paired within a round). */
  overheadPct: Record<string, number>
}

async function measure(ops: Record<string, Op>, floorName: string): Promise<Measured> {
  const names = Object.keys(ops)
  for (const name of names) await runFor(ops[name]!, WARMUP_MS)
  const rates: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]))
  const ratios: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]))
  for (let round = 0; round < ROUNDS; round++) {
    const totals = Object.fromEntries(names.map((k) => [k, { ops: 0, ms: 0 }]))
    for (let slice = 0; slice * SLICE_MS < ROUND_MS; slice++) {
      // Rotate who goes first, so no contender always runs right after the same neighbour.
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + slice) % names.length]!
        const r = await runFor(ops[name]!, SLICE_MS)
        totals[name]!.ops += r.ops
        totals[name]!.ms += r.ms
      }
    }
    const rate = (name: string) => totals[name]!.ops / (totals[name]!.ms / 1000)
    for (const name of names) {
      rates[name]!.push(rate(name))
      ratios[name]!.push((rate(floorName) / rate(name) - 1) * 100)
    }
  }
  const med = (m: Record<string, number[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]))
  return { perSecond: med(rates), overheadPct: med(ratios) }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const oneDecimal = (n: number) => Math.round(n * 10) / 10

async function main(): Promise<void> {
  const schema = await createTestSchema('kms_bench')
  const kms = await SodiumKeyManagementService.create({ pool: schema.pool, masterKey: randomMasterKey() })
  try {
    const credo = createCredoHarness(kms)
    const ctx = contextFor('bench')
    const api = credo.agent.kms

    // Our key: the mediator's routing key (unpack) and a sender key (pack). Imported under its
    // base58 verkey so Credo's unpack finds it without records (its legacy key id fallback).
    const ourSeed = kms.randomBytes(ctx, { length: 32 })
    const ourEdPk = Buffer.alloc(32)
    const ourEdSk = Buffer.alloc(64)
    sodiumNative.crypto_sign_seed_keypair(ourEdPk, ourEdSk, Buffer.from(ourSeed))
    const ourVerkey = base58Encode(ourEdPk)
    for (const context of [ctx, credo.context]) {
      await kms.importKey(context, {
        privateJwk: { kty: 'OKP', crv: 'Ed25519', d: TypedArrayEncoder.toBase64URL(ourSeed), x: TypedArrayEncoder.toBase64URL(ourEdPk), kid: ourVerkey },
      })
    }
    const ourCurveSk = new Uint8Array(32)
    const ourCurvePk = new Uint8Array(32)
    sodium.crypto_sign_ed25519_sk_to_curve25519(ourCurveSk, ourEdSk)
    sodium.crypto_sign_ed25519_pk_to_curve25519(ourCurvePk, ourEdPk)
    const ourJwk = Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: new Uint8Array(ourEdPk) })
    ourJwk.keyId = ourVerkey

    // The peer (a wallet).
    const peerEdPk = Buffer.alloc(32)
    const peerEdSk = Buffer.alloc(64)
    sodiumNative.crypto_sign_keypair(peerEdPk, peerEdSk)
    const peerJwk = Kms.PublicJwk.fromPublicKey({ kty: 'OKP', crv: 'Ed25519', publicKey: new Uint8Array(peerEdPk) })
    const peerX25519Jwk = peerJwk.convertTo(Kms.X25519PublicJwk).toJson()
    const peerCurvePk = new Uint8Array(32)
    sodium.crypto_sign_ed25519_pk_to_curve25519(peerCurvePk, peerEdPk)

    const message = new DidCommBasicMessage({ content: 'x'.repeat(850) })
    const messageJson = message.toJSON()
    const messageBytes = JsonEncoder.toBuffer(messageJson)
    console.log(`message: ${messageBytes.length} bytes of JSON`)

    // An anoncrypted envelope for our key, as a forward arrives at the mediator.
    const envelope = await credo.envelope.packMessage(credo.context, message, {
      recipientKeys: [ourJwk],
      routingKeys: [],
      senderKey: null,
    })
    const header = JsonEncoder.fromBase64(envelope.protected) as { recipients: Array<{ encrypted_key: string }> }
    const encryptedKey = TypedArrayEncoder.fromBase64(header.recipients[0]!.encrypted_key)
    const ciphertext = TypedArrayEncoder.fromBase64(envelope.ciphertext)
    const iv = TypedArrayEncoder.fromBase64(envelope.iv)
    const tag = TypedArrayEncoder.fromBase64(envelope.tag)
    const aad = TypedArrayEncoder.fromString(envelope.protected)

    // --- unpack (anoncrypt) ---------------------------------------------------------------
    const unpackKms = async () => {
      const { data: cek } = await kms.decrypt(ctx, {
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ourVerkey } },
        decryption: { algorithm: 'XSALSA20-POLY1305' },
        encrypted: encryptedKey,
      })
      return kms.decrypt(ctx, {
        decryption: { algorithm: 'C20P', iv, tag, aad },
        key: { privateJwk: { kty: 'oct', k: TypedArrayEncoder.toBase64URL(cek) } },
        encrypted: ciphertext,
      })
    }
    const unpackApi = async () => {
      const { data: cek } = await api.decrypt({
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', keyId: ourVerkey } },
        decryption: { algorithm: 'XSALSA20-POLY1305' },
        encrypted: encryptedKey,
      })
      return api.decrypt({
        decryption: { algorithm: 'C20P', iv, tag, aad },
        key: { privateJwk: { kty: 'oct', k: TypedArrayEncoder.toBase64URL(cek) } },
        encrypted: ciphertext,
      })
    }
    const unpackFloor = () => {
      const cek = new Uint8Array(encryptedKey.length - sodium.crypto_box_SEALBYTES)
      if (!sodium.crypto_box_seal_open(cek, encryptedKey, ourCurvePk, ourCurveSk)) throw new Error('seal_open')
      const out = new Uint8Array(ciphertext.length)
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, null, ciphertext, tag, aad, iv, cek)
      return out
    }
    const unpackCredo = () => credo.envelope.unpackMessage(credo.context, envelope as DidCommEncryptedMessage)

    // Sanity: every contender really decrypts the same message.
    const expected = Buffer.from(messageBytes)
    if (!expected.equals(Buffer.from((await unpackKms()).data))) throw new Error('kms unpack mismatch')
    if (!expected.equals(Buffer.from(unpackFloor()))) throw new Error('floor unpack mismatch')
    if (!expected.equals(Buffer.from((await unpackApi()).data))) throw new Error('api unpack mismatch')
    if ((await unpackCredo()).plaintextMessage['@id'] !== message.id) throw new Error('credo unpack mismatch')

    // --- pack (authcrypt, one recipient) ----------------------------------------------------
    const senderVerkeyBytes = TypedArrayEncoder.fromString(ourVerkey)
    const packKms = async () => {
      const cek = kms.randomBytes(ctx, { length: 32 })
      const sender = await kms.encrypt(ctx, {
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk: peerX25519Jwk } },
        encryption: { algorithm: 'XSALSA20-POLY1305' },
        data: senderVerkeyBytes,
      })
      const wrapped = await kms.encrypt(ctx, {
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk: peerX25519Jwk, keyId: ourVerkey } },
        data: cek,
        encryption: { algorithm: 'XSALSA20-POLY1305' },
      })
      const body = await kms.encrypt(ctx, {
        encryption: { algorithm: 'C20P', aad },
        data: messageBytes,
        key: { privateJwk: { kty: 'oct', k: TypedArrayEncoder.toBase64URL(cek) } },
      })
      return [sender, wrapped, body]
    }
    const packApi = async () => {
      const cek = api.randomBytes({ length: 32 })
      const sender = await api.encrypt({
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk: peerX25519Jwk } },
        encryption: { algorithm: 'XSALSA20-POLY1305' },
        data: senderVerkeyBytes,
      })
      const wrapped = await api.encrypt({
        key: { keyAgreement: { algorithm: 'ECDH-HSALSA20', externalPublicJwk: peerX25519Jwk, keyId: ourVerkey } },
        data: cek,
        encryption: { algorithm: 'XSALSA20-POLY1305' },
      })
      const body = await api.encrypt({
        encryption: { algorithm: 'C20P', aad },
        data: messageBytes,
        key: { privateJwk: { kty: 'oct', k: TypedArrayEncoder.toBase64URL(cek) } },
      })
      return [sender, wrapped, body]
    }
    const packFloor = () => {
      const cek = new Uint8Array(32)
      sodium.randombytes_buf(cek)
      const sender = new Uint8Array(senderVerkeyBytes.length + sodium.crypto_box_SEALBYTES)
      sodium.crypto_box_seal(sender, senderVerkeyBytes, peerCurvePk)
      const nonce = new Uint8Array(24)
      sodium.randombytes_buf(nonce)
      const wrapped = new Uint8Array(32 + sodium.crypto_box_MACBYTES)
      sodium.crypto_box_easy(wrapped, cek, nonce, peerCurvePk, ourCurveSk)
      const bodyIv = new Uint8Array(12)
      sodium.randombytes_buf(bodyIv)
      const body = new Uint8Array(messageBytes.length)
      const bodyTag = new Uint8Array(16)
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, bodyTag, messageBytes, aad, null, bodyIv, cek)
      return [sender, wrapped, body]
    }
    const packCredo = () =>
      credo.envelope.packMessage(credo.context, message, { recipientKeys: [peerJwk], routingKeys: [], senderKey: ourJwk })

    console.log(`measuring: ${ROUNDS} rounds of ${ROUND_MS} ms per contender, in ${SLICE_MS} ms turns; medians of rounds`)
    // The kms-vs-floor pair is measured on its own so the slow Credo paths do not dilute it.
    const unpack = await measure({ kms: unpackKms, floor: unpackFloor }, 'floor')
    const pack = await measure({ kms: packKms, floor: packFloor }, 'floor')
    const unpackCredoPaths = await measure({ api: unpackApi, credo: unpackCredo, floor: unpackFloor }, 'floor')
    const packCredoPaths = await measure({ api: packApi, credo: packCredo, floor: packFloor }, 'floor')

    const round = (n: number) => Math.round(n)
    const result = {
      message_bytes: messageBytes.length,
      method:
        'kms = the KeyManagementService calls DidCommEnvelopeService makes, on our backend; floor = same crypto on raw sodium-native; api = via Credo KeyManagementApi; credo = DidCommEnvelopeService end to end',
      unpack_per_s: round(unpack.perSecond.kms!),
      unpack_floor_per_s: round(unpack.perSecond.floor!),
      unpack_overhead_pct: oneDecimal(unpack.overheadPct.kms!),
      pack_per_s: round(pack.perSecond.kms!),
      pack_floor_per_s: round(pack.perSecond.floor!),
      pack_overhead_pct: oneDecimal(pack.overheadPct.kms!),
      unpack_via_kms_api_per_s: round(unpackCredoPaths.perSecond.api!),
      unpack_via_kms_api_overhead_pct: oneDecimal(unpackCredoPaths.overheadPct.api!),
      pack_via_kms_api_per_s: round(packCredoPaths.perSecond.api!),
      pack_via_kms_api_overhead_pct: oneDecimal(packCredoPaths.overheadPct.api!),
      unpack_via_credo_envelope_per_s: round(unpackCredoPaths.perSecond.credo!),
      pack_via_credo_envelope_per_s: round(packCredoPaths.perSecond.credo!),
      load_average_1m: oneDecimal(loadavg()[0] ?? 0),
      rounds: ROUNDS,
      round_ms: ROUND_MS,
      node: process.version,
      measured_at: new Date().toISOString(),
    }
    const out = join(dirname(fileURLToPath(import.meta.url)), '../../../bench-results/kms.json')
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
    console.log(JSON.stringify(result, null, 2))
    console.log(`written to ${out}`)
  } finally {
    kms.close()
    await schema.drop()
  }
}

await main()
