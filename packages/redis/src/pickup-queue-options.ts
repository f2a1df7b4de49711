import { z } from 'zod'
import { DEFAULT_ORDER_HOLD_MS } from './inbound-order.js'

const DAY_MS = 24 * 60 * 60 * 1000

/** The tunable part of RedisPickupQueue's options; every field has a default. */
export const pickupQueueSettingsSchema = z.object({
  /** How long a taken, unconfirmed message stays invisible before it is delivered again. */
  leaseMs: z.number().int().positive().default(60_000),
  /** Retention: messages queued longer than this are removed (and counted). 0 keeps them forever. */
  maxAgeMs: z.number().int().nonnegative().default(7 * DAY_MS),
  /** Cap on messages (pending + in flight) per connection. 0 = no cap. */
  maxMessagesPerConnection: z.number().int().nonnegative().default(10_000),
  /** Cap on payload bytes (pending + in flight) per connection. 0 = no cap. */
  maxBytesPerConnection: z.number().int().nonnegative().default(64 * 1024 * 1024),
  /**
   * Most messages one take returns, whatever limit the caller asks for (or when it asks for none):
   * a take is one Lua script, and one script moving 10,000 envelopes would stall Redis for everyone.
   */
  maxTakeLimit: z.number().int().positive().default(100),
  /**
   * How long an add's idempotency key is remembered: a second add with the same key in this window is
   * a no-op, even if the first message was confirmed meanwhile. It must outlast every retry of the
   * job that added it (attempts x backoff plus stalled-job recovery: well under an hour).
   */
  idempotencyWindowMs: z.number().int().positive().default(60 * 60 * 1000),
  /**
   * How long the oldest inbound message still being processed may hold later deliveries back (see
   * InboundOrder); give InboundOrder the same value.
   */
  orderHoldMs: z.number().int().positive().default(DEFAULT_ORDER_HOLD_MS),
  /**
   * Longest a live delivery holds its connection (no other worker delivers to it meanwhile) before it
   * released it: past that, its worker is taken for dead. Never longer than the lease.
   */
  liveLockMs: z.number().int().positive().default(10_000),
  /** Connections visited per round trip by `purgeExpired()`. */
  purgeBatchSize: z.number().int().positive().default(100),
})

export type PickupQueueSettings = z.infer<typeof pickupQueueSettingsSchema>
export type PickupQueueSettingsInput = z.input<typeof pickupQueueSettingsSchema>
