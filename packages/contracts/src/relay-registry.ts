import { z } from 'zod'

/** What a relay announces about itself in Redis, so workers can reach its internal API. */
export const relayAnnouncementSchema = z.object({
  relayId: z.string().min(1),
  /** Base URL of the relay's internal listener, e.g. `http://10.0.3.7:4001`. */
  internalUrl: z.string().url(),
  startedAt: z.number().int().nonnegative(),
  /** How often the relay refreshes its heartbeat, so a reader knows when to call it dead. */
  heartbeatIntervalMs: z.number().int().positive(),
  /** Largest body the relay writes to a socket; a worker refuses bigger ones itself (413). */
  maxSendBytes: z.number().int().positive().optional(),
  /** WebSockets the relay held at its last beat, for operators (absent from relays that predate it). */
  sockets: z.number().int().nonnegative().optional(),
})
export type RelayAnnouncement = z.infer<typeof relayAnnouncementSchema>

/** What a mediator worker announces about itself in Redis, so operators can see which workers run. */
export const workerAnnouncementSchema = z.object({
  workerId: z.string().min(1),
  startedAt: z.number().int().nonnegative(),
  /** How often the worker refreshes its heartbeat, so a reader knows when to call it dead. */
  heartbeatIntervalMs: z.number().int().positive(),
  /** Inbound jobs it processes at once. */
  concurrency: z.number().int().positive(),
  host: z.string().optional(),
  pid: z.number().int().positive().optional(),
  opsPort: z.number().int().nonnegative().optional(),
  /** Time of the beat that wrote this (ms): how long ago a dead worker was last seen. */
  lastBeatAt: z.number().int().nonnegative().optional(),
})
export type WorkerAnnouncement = z.infer<typeof workerAnnouncementSchema>
