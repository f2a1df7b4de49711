import { randomBytes } from 'node:crypto'
import type { AgentContext } from '@credo-ts/core'
import pg from 'pg'
import { SodiumKeyManagementService } from '@mediator/kms'
import { PostgresStorageService } from '@mediator/storage-postgres'
import { createTestSchema } from '@mediator/test-support'
import { setUpWallet } from '../wallet-setup.js'
import type { ForwardTarget } from '../support/forward-packing.js'
import type { FleetConnection, KeysDatabase } from './load/protocol.js'
import { seedConnections, type SeedOptions } from './connection-seeder.js'
import { schemaPool } from './schema-pool.js'

const SETUP_CONCURRENCY = 6

export interface WalletFleet {
  keys: KeysDatabase
  kms: SodiumKeyManagementService
  ctx: AgentContext
  connections: FleetConnection[]
  /** One per wallet socket: the key forwards go to, and its connection (socket i speaks on connection i). */
  wallets: Array<ForwardTarget & { connection: number }>
  credoSetupSeconds: number
  seedSeconds: number
  close(): Promise<void>
}

/**
 * The wallets of a run, one connection each, as real wallets have. `credoWallets` real Credo agents
 * each get a connection and mediation from the mediator's invitation and register one key
 * (keylist-update), all through the protocol; the other connections are seeded into the mediator's
 * store (connection-seeder.ts). Every socket then speaks pickup v2 on a connection the mediator
 * granted, every forward goes to a key the mediator holds for it, and the live-session directory holds
 * one entry per socket. All wallet agents keep their keys in one KMS schema, so the load processes can
 * open it too.
 */
export async function setUpWalletFleet(options: {
  databaseUrl: string
  /** Where seeded connections go; only needed when there are more sockets than Credo wallets. */
  mediator?: SeedOptions['mediator']
  endpoints: string[]
  invitationUrl: string
  credoWallets: number
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
  const pool = schemaPool(options.databaseUrl, keysSchema, 8)
  const kms = await SodiumKeyManagementService.create({ pool, masterKey: new Uint8Array(masterKey) })
  const connections: FleetConnection[] = []
  let ctx: AgentContext | undefined

  const credoStarted = performance.now()
  const credoWallets = Math.min(options.credoWallets, options.sockets)
  let next = 0
  const setUpNext = async () => {
    while (next < credoWallets) {
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
      if ((i + 1) % 50 === 0) log(`${i + 1}/${credoWallets} Credo wallets set up`)
    }
  }
  await Promise.all(Array.from({ length: SETUP_CONCURRENCY }, setUpNext))
  const credoSetupSeconds = (performance.now() - credoStarted) / 1000
  const [first] = connections
  if (!ctx || !first) throw new Error('no wallet was set up')
  log(`${connections.length} Credo wallets set up in ${credoSetupSeconds.toFixed(1)} s`)

  const seedStarted = performance.now()
  const toSeed = options.sockets - connections.length
  if (toSeed > 0 && !options.mediator) throw new Error('more sockets than Credo wallets, and no mediator store to seed connections into')
  const seeded = !options.mediator || toSeed === 0 ? [] : await seedConnections({
    mediator: options.mediator,
    walletKms: kms,
    walletCtx: ctx,
    routingKey: first.routingKey,
    endpoints: options.endpoints,
    count: toSeed,
    log,
  })
  connections.push(...seeded)
  const seedSeconds = (performance.now() - seedStarted) / 1000
  log(`${seeded.length} more connections seeded in ${seedSeconds.toFixed(1)} s`)

  return {
    keys: { url: options.databaseUrl, schema: keysSchema, masterKeyHex: masterKey.toString('hex') },
    kms,
    ctx,
    connections,
    wallets: connections.map((c, i) => ({ connection: i, recipientKey: c.recipientKey, routingKey: c.routingKey })),
    credoSetupSeconds,
    seedSeconds,
    async close() {
      kms.close()
      await pool.end()
    },
  }
}
