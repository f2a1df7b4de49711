import type { QueuedDidCommMessage } from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import type { LiveSessionDirectory, LiveSessionEntry, RedisPickupQueue } from '@mediator/redis'
import type { RelayClient } from '../relay/relay-client.js'
import type { MediatorMetrics } from '../metrics.js'
import type { LiveDeliveryOutcome } from './live-delivery.js'

export interface ImplicitDeliveryDeps {
  directory: LiveSessionDirectory
  queue: RedisPickupQueue
  relay: RelayClient
  metrics: MediatorMetrics
}

/**
 * Delivery to a wallet without the pickup protocol (implicit pickup, return route `all` on its
 * WebSocket): each queued envelope is written to the socket as it is, one frame each, in order, and
 * removed from the queue once the relay confirmed the write. DIDComm v1 has no acknowledgement for
 * this, so the relay's write is the last thing we can know (docs/pickup-queue.md, "Implicit pickup").
 *
 * One at a time: a frame not written stops the batch, so the wallet never gets a message before an
 * older one that is still queued. What was not written is released at once (a socket that is gone
 * also ends the session); one the relay did not answer keeps its lease, as a live delivery does.
 */
export async function deliverImplicitly(
  deps: ImplicitDeliveryDeps,
  connectionId: string,
  entry: LiveSessionEntry,
  messages: QueuedDidCommMessage[],
  log: Logger,
): Promise<LiveDeliveryOutcome> {
  const written: string[] = []
  let outcome: LiveDeliveryOutcome = 'written'
  let unsent: string[] = []
  for (const [index, message] of messages.entries()) {
    const result = await deps.relay.send(entry.relayId, entry.socketId, JSON.stringify(message.encryptedMessage))
    if (result.outcome === 'written') {
      written.push(message.id)
      continue
    }
    outcome = result.outcome
    const rest = messages.slice(index + 1).map((m) => m.id)
    unsent = result.outcome === 'failed' && result.maybeWritten ? rest : [message.id, ...rest]
    log.info({ connectionId, socketId: entry.socketId, outcome, reason: result.reason }, 'implicit delivery stopped')
    break
  }
  deps.metrics.liveDeliveries.inc({ outcome })
  if (written.length > 0) await deps.queue.remove(connectionId, written)
  if (unsent.length > 0) await deps.queue.releaseInFlight(connectionId, unsent)
  if (outcome === 'gone') await deps.directory.unregister(connectionId, entry.socketId, entry.relayId)
  if (written.length > 0) log.debug({ connectionId, count: written.length, socketId: entry.socketId }, 'implicit delivery written')
  return outcome
}
