import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import pino from 'pino'
import { RedisKeys } from '@mediator/contracts'
import { LiveSessionDirectory, RedisPickupQueue, RelayRegistry } from '@mediator/redis'
import { SocketLifecycle } from '../../src/pickup/socket-lifecycle.js'
import { createRelayProbe } from '../../src/relay/relay-probe.js'
import { TestCluster, type RelayHandle } from '../support/cluster.js'

/**
 * In a reconnect storm the surviving relays take thousands of wallets at once and beat late. Workers
 * that took a late beat for death dropped every live session of those relays, and the relays then
 * closed every socket to have them registered again: the storm spread to the relays that had survived
 * it (seen in the cluster benchmark, where all 30,000 wallets dropped after 20,000 lost their relays).
 * A relay whose heartbeat expired is declared dead only when it does not answer as itself.
 */
describe('dead relay reaper', () => {
  let cluster: TestCluster
  let relay: RelayHandle
  let redis: Redis
  let keys: RedisKeys
  let directory: LiveSessionDirectory
  let registry: RelayRegistry
  let lifecycle: SocketLifecycle

  beforeAll(async () => {
    // Beats once at start and then not for a minute: the test decides when its heartbeat is late.
    cluster = await TestCluster.start({ label: 'relay_reaper', relays: 1, workers: 0, env: { REGISTRY_HEARTBEAT_MS: '60000' } })
    relay = cluster.relays[0]!
    redis = new Redis(cluster.redis.redisUrl)
    keys = new RedisKeys(cluster.redis.prefix)
    directory = new LiveSessionDirectory({ redis, prefix: keys })
    registry = new RelayRegistry(redis, keys)
    const queue = new RedisPickupQueue({ redis, prefix: keys })
    lifecycle = new SocketLifecycle(directory, queue, registry, pino({ level: 'silent' }), createRelayProbe(2_000))
  }, 60_000)
  afterAll(async () => {
    redis?.disconnect()
    await cluster?.stop()
  })

  async function liveOn(connectionId: string) {
    await directory.register(connectionId, {
      relayId: relay.relayId,
      socketId: `${connectionId}-socket`,
      transport: 'ws',
      registeredAt: Date.now(),
      keys: { recipientKeys: ['w'.repeat(44)], senderKey: 'm'.repeat(44), senderKeyId: 'key-1' },
    })
  }

  it('keeps the sessions of a relay that beats late but answers as itself', async () => {
    await liveOn('late-relay-wallet')
    await redis.del(keys.relayHeartbeat(relay.relayId))
    expect(await lifecycle.reapDeadRelays()).toEqual([])
    expect(await directory.lookup('late-relay-wallet')).toBeDefined()
    expect(await registry.get(relay.relayId)).not.toBeNull()
  })

  it('does not take another relay on the same address for the one it asks about', async () => {
    const probe = createRelayProbe(2_000)
    const announcement = await registry.get(relay.relayId)
    expect(announcement).not.toBeNull()
    expect(await probe({ ...announcement!, relayId: 'a-relay-that-was-here-before' })).toBe(false)
    expect(await probe(announcement!)).toBe(true)
  })

  it('drops the sessions of a relay that is gone', async () => {
    await liveOn('dead-relay-wallet')
    await cluster.killRelay(relay)
    await redis.del(keys.relayHeartbeat(relay.relayId))
    expect(await lifecycle.reapDeadRelays()).toEqual([relay.relayId])
    expect(await directory.lookup('dead-relay-wallet')).toBeUndefined()
    expect(await directory.lookup('late-relay-wallet')).toBeUndefined()
    expect(await registry.get(relay.relayId)).toBeNull()
  })
})
