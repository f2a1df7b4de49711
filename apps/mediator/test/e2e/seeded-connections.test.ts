import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestCluster } from '../support/cluster.js'
import { waitUntil } from '../support/wait.js'
import { EnvelopePacker, PeerKeyCache } from '../../src/forward/index.js'
import { setUpWallet, type BenchWallet } from '../../bench/wallet-setup.js'
import { WalletClient } from '../../bench/wallet-client.js'
import { seedConnections } from '../../bench/cluster/connection-seeder.js'
import { packForwards } from '../../bench/support/forward-packing.js'
import type { FleetConnection } from '../../bench/cluster/load/protocol.js'

/**
 * `bench:cluster` seeds most of its 100,000 connections into the mediator's store instead of running
 * the protocol for each. Its figures mean something only if the mediator treats a seeded connection as
 * one of its own: live mode on the connection's key, forwards to the registered key delivered to that
 * socket and no other, confirmations accepted. This runs that against real relay and worker processes.
 */
describe('connections seeded into the mediator store', () => {
  let cluster: TestCluster
  let credo: BenchWallet
  let seeded: FleetConnection[]
  const clients: WalletClient[] = []

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'seeded', relays: 2, workers: 1 })
    // One wallet through the protocol: the mediator's routing key, and a KMS for the seeded wallets.
    credo = await setUpWallet('seed-origin', await cluster.invitationUrl())
    seeded = await seedConnections({
      mediator: { databaseUrl: cluster.db.databaseUrl, schema: cluster.db.schema, masterKeyHex: cluster.masterKey },
      walletKms: credo.kms,
      walletCtx: credo.ctx,
      routingKey: credo.routingKey,
      endpoints: [cluster.publicHttpUrl, cluster.publicWsUrl],
      count: 4,
      log: () => undefined,
    })
  }, 120_000)

  afterAll(async () => {
    for (const c of clients) c.terminate()
    await credo?.close()
    await cluster?.stop()
  })

  it('go live, get exactly their own forwards, and confirm them', async () => {
    expect(new Set(seeded.map((c) => c.publicKey)).size).toBe(4)
    const received = seeded.map(() => [] as string[])
    const confirmed = seeded.map(() => [] as string[])
    const peers = new PeerKeyCache()
    for (const [i, c] of seeded.entries()) {
      const client = new WalletClient(
        { label: c.label, kms: credo.kms, ctx: credo.ctx, ourKey: { publicKey: c.publicKey, keyId: c.keyId }, mediatorKey: c.mediatorKey },
        cluster.publicWsUrl,
        (tag) => received[i]?.push(tag),
        100,
        { peers, onConfirmed: (ids) => confirmed[i]?.push(...ids) },
      )
      await client.connect()
      clients.push(client)
    }

    const packer = new EnvelopePacker(credo.kms, peers)
    const targets = seeded.map((c) => ({ recipientKey: c.recipientKey, routingKey: c.routingKey }))
    // Three forwards per wallet, in turn over the wallets.
    const forwards = await packForwards(packer, credo.ctx, targets, 12)
    for (const f of forwards) {
      const res = await fetch(cluster.publicHttpUrl, { method: 'POST', headers: { 'content-type': 'application/didcomm-envelope-enc' }, body: f.body })
      expect(res.status).toBe(202)
    }

    await waitUntil('every seeded wallet got and confirmed its forwards', () => received.every((r) => r.length >= 3) && confirmed.every((c) => c.length >= 3), {
      explain: () => `received ${received.map((r) => r.length).join('/')}, confirmed ${confirmed.map((c) => c.length).join('/')}`,
    })
    for (const [i, r] of received.entries()) {
      expect(r.sort()).toEqual(forwards.filter((_, k) => k % 4 === i).map((f) => f.tag).sort())
    }
  }, 60_000)
})
