import type { AgentContext, EventEmitter, Kms } from '@credo-ts/core'
import type { Redis } from 'ioredis'
import type { Logger } from '@mediator/config'
import type { BackgroundWrites } from '../pickup/background-writes.js'
import type { MediatorMetrics } from '../metrics.js'
import { ForwardInvalidation, type InvalidationTarget } from './forward-invalidation.js'
import { ForwardRecipients, type ForwardRecipientsOptions } from './forward-recipients.js'
import { ForwardShortcut, type ForwardQueue } from './forward-shortcut.js'
import { RoutingKeys } from './routing-keys.js'

export { ForwardShortcut, type ForwardQueue, type ForwardShortcutDeps, type ForwardSkipReason } from './forward-shortcut.js'
export { ForwardRecipients, type ForwardRecipient, type ForwardRecipientsOptions } from './forward-recipients.js'
export {
  ForwardInvalidation,
  forwardInvalidationChannel,
  forwardInvalidationSchema,
  type InvalidationTarget,
} from './forward-invalidation.js'
export { RoutingKeys } from './routing-keys.js'
export { readForward, FORWARD_TYPES, type ForwardMessage } from './forward-message.js'
export { EnvelopePacker, PeerKeyCache, openEnvelopeBody, openSenderKey, type EnvelopeKms, type PackKeys } from './envelope-crypto.js'
export { isEnvelope, readProtectedHeader, type EnvelopeJson, type ProtectedHeader } from './envelope.js'
export { FastDeliveryPacker, deliveryMessageJson, type DeliveryPacker } from './delivery-packer.js'

export interface ForwardFastPathOptions {
  /** The worker's agent, after `initialize()` (its routing record exists then). */
  agent: { context: AgentContext; events: EventEmitter }
  kms: Pick<Kms.KeyManagementService, 'decrypt'>
  /** The queue the agent was built with. */
  queue: ForwardQueue
  backgroundWrites: BackgroundWrites
  /** The worker's Redis client: invalidation signals are published on it; its end ends the subscriber. */
  redis: Redis
  redisPrefix: string
  metrics?: MediatorMetrics
  logger: Logger
  recipientCache?: ForwardRecipientsOptions
  /** Other per-process caches invalidated by the same record events and Redis signals. */
  invalidates?: readonly InvalidationTarget[]
}

/**
 * Builds and starts the forward fast path of a worker: routing keys loaded, the invalidation
 * subscriber connected. The returned shortcut goes into JobProcessor's `shortcut`. It stops by
 * itself when the worker's Redis client is disconnected (the worker's shutdown), or with `close()`.
 */
export async function startForwardFastPath(
  options: ForwardFastPathOptions,
): Promise<ForwardShortcut & { close(): Promise<void> }> {
  const agentContext = options.agent.context
  const routingKeys = new RoutingKeys(agentContext)
  await routingKeys.refresh()
  const recipients = new ForwardRecipients(agentContext, options.recipientCache)
  const invalidation = new ForwardInvalidation({
    events: options.agent.events,
    redis: options.redis,
    redisPrefix: options.redisPrefix,
    recipients,
    routingKeys,
    logger: options.logger,
    targets: options.invalidates,
  })
  await invalidation.start()
  options.redis.once('end', () => void invalidation.close())
  const forwards = options.metrics?.forwards
  const shortcut = new ForwardShortcut({
    agentContext,
    kms: options.kms,
    routingKeys,
    recipients,
    queue: options.queue,
    backgroundWrites: options.backgroundWrites,
    onForwarded: forwards ? () => forwards.inc({ path: 'fast' }) : undefined,
  })
  options.logger.info({ routingKeys: routingKeys.size }, 'forward fast path on')
  return Object.assign(shortcut, { close: () => invalidation.close() })
}
