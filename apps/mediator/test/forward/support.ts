import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { TypedArrayEncoder, type AgentContext } from '@credo-ts/core'
import {
  DidCommConnectionRecord,
  DidCommConnectionRepository,
  DidCommDidExchangeRole,
  DidCommDidExchangeState,
  DidCommMediationRecord,
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
} from '@credo-ts/didcomm'
import { Redis } from 'ioredis'
import pino from 'pino'
import { RedisPickupQueue } from '@mediator/redis'
import { createTestRedisPrefix, testRedisUrl } from '@mediator/test-support'
import { createMediatorAgent } from '../../src/agent/mediator-agent.js'
import { agentPlatform } from '../support/agent-platform.js'

export const silentLogger = pino({ level: 'silent' })

/** A fresh Ed25519 key pair as base58 (public) and a private JWK (for importing into a KMS). */
export function newEd25519() {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string; x: string }
  const base58 = TypedArrayEncoder.toBase58(Buffer.from(jwk.x, 'base64url'))
  return { base58, privateJwk: { kty: 'OKP' as const, crv: 'Ed25519' as const, d: jwk.d, x: jwk.x } }
}

/**
 * A stock Credo 0.6.3 mediator agent on our KMS, Postgres storage and the Redis pickup queue: the
 * reference the fast path is compared with. Mediations are written directly as Credo records
 * (what a granted keylist-update leaves behind), so each case costs milliseconds, not a protocol run.
 */
export async function startReferenceMediator(label: string) {
  const { db, kms, storage } = await agentPlatform(label)
  const prefix = await createTestRedisPrefix(label)
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 })
  const queue = new RedisPickupQueue({ redis, prefix: prefix.prefix })
  const agent = createMediatorAgent({
    kms,
    storage,
    queue,
    endpoints: ['http://127.0.0.1:1'],
    autoGrantMediation: true,
    modules: {},
  })
  await agent.initialize()
  const ctx: AgentContext = agent.context

  return {
    agent,
    ctx,
    kms,
    queue,
    redis,
    redisPrefix: prefix.prefix,
    /** A ready connection with a mediation in `state` holding `recipientKeys`. */
    async addMediation(recipientKeys: string[], state = DidCommMediationState.Granted) {
      const connection = new DidCommConnectionRecord({
        state: DidCommDidExchangeState.Completed,
        role: DidCommDidExchangeRole.Responder,
        did: `did:peer:${randomUUID()}`,
        theirDid: `did:peer:${randomUUID()}`,
      })
      await agent.context.resolve(DidCommConnectionRepository).save(ctx, connection)
      const mediation = new DidCommMediationRecord({
        connectionId: connection.id,
        threadId: randomUUID(),
        role: DidCommMediationRole.Mediator,
        state,
        recipientKeys,
      })
      await agent.context.resolve(DidCommMediationRepository).save(ctx, mediation)
      return { connection, mediation }
    },
    /** Everything queued for the connection, removed (to compare the two paths case by case). */
    async drain(connectionId: string, recipientDid?: string) {
      return queue.takeFromQueue(ctx, { connectionId, recipientDid, limit: 100, deleteMessages: true })
    },
    async close() {
      await agent.shutdown()
      kms.close()
      redis.disconnect()
      await prefix.cleanup()
      await db.drop()
    },
  }
}

export type ReferenceMediator = Awaited<ReturnType<typeof startReferenceMediator>>
