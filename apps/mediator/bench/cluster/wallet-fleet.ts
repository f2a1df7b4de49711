import { randomBytes, randomUUID } from 'node:crypto'
import type { AgentContext } from '@credo-ts/core'
import { TypedArrayEncoder } from '@credo-ts/core'
import pg from 'pg'
import sodium from 'sodium-native'
import { SodiumKeyManagementService } from '@mediator/kms'
import { PostgresStorageService } from '@mediator/storage-postgres'
import { createTestSchema } from '@mediator/test-support'
import { EnvelopePacker, PeerKeyCache, openEnvelopeBody, openSenderKey, readProtectedHeader, type EnvelopeJson } from '../../src/forward/index.js'
import { setUpWallet } from '../wallet-setup.js'
import type { ForwardTarget } from '../support/forward-packing.js'
import type { FleetConnection, KeysDatabase } from './load/protocol.js'

const KEYLIST_BATCH = 1_000
const SETUP_CONCURRENCY = 6

export interface WalletFleet {
  keys: KeysDatabase
  kms: SodiumKeyManagementService
  ctx: AgentContext
  connections: FleetConnection[]
  /** One per wallet socket: the key forwards go to, and the connection it was registered on. */
  wallets: Array<ForwardTarget & { connection: number }>
  credoSetupSeconds: number
  keylistSeconds: number
  close(): Promise<void>
}

/** A fresh Ed25519 public key (base58), a key a wallet would create for one of its contacts. */
function newRecipientKey(): string {
  const pk = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const sk = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_keypair(pk, sk)
  return TypedArrayEncoder.toBase58(pk)
}

/**
 * The wallets of a run. `connections` real Credo agents each get a connection and mediation from
 * the mediator's invitation and register one key (keylist-update, through Credo); then, on each of
 * those connections, our lightweight client registers more recipient keys with real keylist-update
 * messages (1,000 keys each), one per further wallet socket. Every socket speaks pickup v2 on a
 * connection the mediator granted, and every forward goes to a key the mediator holds for it.
 * All wallet agents keep their keys in one KMS schema, so the load processes can open it too.
 */
export async function setUpWalletFleet(options: {
  databaseUrl: string
  invitationUrl: string
  postUrl: string
  connections: number
  sockets: number
  log: (text: string) => void
}): Promise<WalletFleet> {
  const { log } = options
  const keysSchema = `wallet_keys_${randomBytes(3).toString('hex')}`
  const admin = new pg.Client({ connectionString: options.databaseUrl })
  await admin.connect()
  await admin.query(`CREATE SCHEMA "${keysSchema}"`)
  await admin.end()
  const masterKey = randomBytes(32)
  const pool = new pg.Pool({ connectionString: options.databaseUrl, options: `-c search_path="${keysSchema}"`, max: 8 })
  const kms = await SodiumKeyManagementService.create({ pool, masterKey: new Uint8Array(masterKey) })
  const connections: FleetConnection[] = []
  let ctx: AgentContext | undefined

  const credoStarted = performance.now()
  let next = 0
  const setUpNext = async () => {
    while (next < options.connections) {
      const i = next++
      const db = await createTestSchema(`wallet_${i}`)
      const storage = await PostgresStorageService.create({ pool: db.pool })
      await storage.provisionContext('default')
      const wallet = await setUpWallet(`w${i}`, options.invitationUrl, { kms, storage, release: () => db.drop() })
      ctx ??= wallet.ctx
      connections[i] = {
        label: wallet.label,
        keyId: wallet.ourKey.keyId,
        publicKey: wallet.ourKey.publicKey,
        mediatorKey: wallet.mediatorKey,
        routingKey: wallet.routingKey,
        recipientKey: wallet.recipientKey,
      }
      // The agent is down already; its records are the mediator's business now, the keys stay.
      await wallet.close()
      if ((i + 1) % 50 === 0) log(`${i + 1}/${options.connections} Credo wallets set up`)
    }
  }
  await Promise.all(Array.from({ length: SETUP_CONCURRENCY }, setUpNext))
  const credoSetupSeconds = (performance.now() - credoStarted) / 1000
  if (!ctx) throw new Error('no wallet was set up')
  log(`${connections.length} Credo wallets set up in ${credoSetupSeconds.toFixed(1)} s`)

  const keylistStarted = performance.now()
  // The first wallet of each connection is the Credo agent's own key; the others are new keys.
  const wallets: WalletFleet['wallets'] = Array.from({ length: options.sockets }, (_, i) => ({
    connection: i % connections.length,
    recipientKey: i < connections.length ? (connections[i]?.recipientKey ?? '') : newRecipientKey(),
    routingKey: '',
  }))
  const peers = new PeerKeyCache()
  const packer = new EnvelopePacker(kms, peers)
  const byConnection = new Map<number, string[]>()
  for (const [i, w] of wallets.entries()) {
    w.routingKey = connections[w.connection]?.routingKey ?? ''
    if (i < connections.length) continue
    byConnection.set(w.connection, [...(byConnection.get(w.connection) ?? []), w.recipientKey])
  }
  const batches = [...byConnection].flatMap(([c, keys]) =>
    Array.from({ length: Math.ceil(keys.length / KEYLIST_BATCH) }, (_, b) => ({ c, keys: keys.slice(b * KEYLIST_BATCH, (b + 1) * KEYLIST_BATCH) })),
  )
  let nextBatch = 0
  const registerNext = async () => {
    while (nextBatch < batches.length) {
      const batch = batches[nextBatch++]
      const connection = batch && connections[batch.c]
      if (!batch || !connection || !ctx) break
      await registerKeys(packer, peers, kms, ctx, options.postUrl, connection, batch.keys)
    }
  }
  await Promise.all(Array.from({ length: 4 }, registerNext))
  const keylistSeconds = (performance.now() - keylistStarted) / 1000
  log(`${wallets.length} wallet keys registered with ${batches.length} keylist-update messages in ${keylistSeconds.toFixed(1)} s`)

  return {
    keys: { url: options.databaseUrl, schema: keysSchema, masterKeyHex: masterKey.toString('hex') },
    kms,
    ctx,
    connections,
    wallets,
    credoSetupSeconds,
    keylistSeconds,
    async close() {
      kms.close()
      await pool.end()
    },
  }
}

/**
 * One keylist-update from our client on a Credo wallet's connection, authcrypted and POSTed with
 * return route; the mediator's keylist-update-response must report every key added.
 */
async function registerKeys(
  packer: EnvelopePacker,
  peers: PeerKeyCache,
  kms: SodiumKeyManagementService,
  ctx: AgentContext,
  postUrl: string,
  connection: FleetConnection,
  keys: string[],
): Promise<void> {
  const message = {
    '@type': 'https://didcomm.org/coordinate-mediation/1.0/keylist-update',
    '@id': randomUUID(),
    updates: keys.map((k) => ({ recipient_key: k, action: 'add' })),
    '~transport': { return_route: 'all' },
  }
  const ourKey = { publicKey: connection.publicKey, keyId: connection.keyId }
  const packed = await packer.pack(ctx, message, { recipientKeys: [connection.mediatorKey], sender: ourKey })
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(postUrl, { method: 'POST', headers: { 'content-type': 'application/didcomm-envelope-enc' }, body: JSON.stringify(packed) })
    const text = await res.text()
    if (res.status !== 200) {
      if (attempt < 5) continue
      throw new Error(`keylist-update answered ${res.status}: ${text.slice(0, 200)}`)
    }
    const envelope = JSON.parse(text) as EnvelopeJson
    const recipient = readProtectedHeader(envelope)?.recipients.find((r) => r.header.kid === connection.publicKey)
    if (!recipient) throw new Error('keylist-update-response not for us')
    const sender = await openSenderKey(kms, ctx, recipient, connection.keyId)
    const body = await openEnvelopeBody(kms, ctx, envelope, recipient, connection.keyId, peers.get(sender).x25519)
    const reply = JSON.parse(Buffer.from(body).toString('utf8')) as { '@type': string; updated?: Array<{ result: string }> }
    const ok = reply.updated?.filter((u) => u.result === 'success').length ?? 0
    if (ok !== keys.length) throw new Error(`keylist-update: ${ok}/${keys.length} keys added (${reply['@type']})`)
    return
  }
}
