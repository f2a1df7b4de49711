import type { AgentContext, Kms } from '@credo-ts/core'
import type { DidCommQueueTransportRepository } from '@credo-ts/didcomm'
import type { InboundMessageJob } from '@mediator/contracts'
import type { Logger } from '@mediator/config'
import type { InboundShortcut, ShortcutResult, SocketCloseHandler } from '../inbound/job-processor.js'
import type { RelayClient, RelayWriteOutcome } from '../relay/relay-client.js'
import { isTransientError } from '../inbound/error-classification.js'
import { ENVELOPE_ENC, isEnvelope, readProtectedHeader } from '../forward/envelope.js'
import { isDecryptionFailure, openEnvelopeBody, openSenderKey, type EnvelopePacker, type PeerKeyCache } from '../forward/envelope-crypto.js'
import type { ConnectionsByKeys } from './connections-by-keys.js'
import type { OurKeys } from './our-keys.js'
import { didDigest, sameSession, type SocketSession, type SocketSessions } from './socket-sessions.js'
import type { LiveSessionStarter } from '../pickup/cluster-pickup-session-service.js'
import type { PickupUsers } from '../pickup/implicit-pickup.js'
import { readFastPickupRequest, statusMessageJson, type FastPickupRequest } from './pickup-messages.js'

/** Why a message was left to Credo (a debug log field). */
export type PickupSkipReason =
  | 'not-envelope'
  | 'not-authcrypt'
  | 'no-reply-channel'
  | 'not-our-key'
  | 'not-decryptable'
  | 'not-fast-pickup-request'
  | 'live-mode-not-on-socket'
  | 'no-connection'


/**
 * The relay could not write the status reply now (503, timeout). Credo's path ends the same way (a
 * status may not be queued, so it is undeliverable and the job a dead letter); the confirmed messages
 * are removed either way.
 */
export class StatusReplyUndeliverableError extends Error {
  public constructor(public readonly result: Exclude<RelayWriteOutcome, { outcome: 'written' }>) {
    super(`status reply undeliverable: ${result.outcome} (${result.reason})`)
    this.name = 'StatusReplyUndeliverableError'
  }
}

export interface PickupShortcutDeps {
  agentContext: AgentContext
  kms: Pick<Kms.KeyManagementService, 'decrypt'>
  ourKeys: OurKeys
  connections: ConnectionsByKeys
  /**
   * The live sessions on the socket a message came on: without it (or without a trusted one) every
   * message is attributed through OurKeys and ConnectionsByKeys.
   */
  socketSessions?: SocketSessions
  peers: PeerKeyCache
  packer: EnvelopePacker
  /** The queue Credo uses (removeMessages, getAvailableMessageCount). */
  queue: Pick<DidCommQueueTransportRepository, 'removeMessages' | 'getAvailableMessageCount'>
  relay: Pick<RelayClient, 'send' | 'disconnect'>
  socketCloseHandler: SocketCloseHandler
  /** Without it, live-delivery-change is left to Credo. */
  liveSessions?: LiveSessionStarter
  pickupUsers?: PickupUsers
  /** `attributed`: found from the socket's live session, or looked up from the keys. */
  onHandled?: (kind: FastPickupRequest['kind'], attributed: 'socket' | 'lookup') => void
}

/**
 * Pickup v2 `messages-received` (every confirmation of a delivery) and `live-delivery-change` turning
 * live mode on (every socket a wallet opens) off Credo's generic path: the authcrypted envelope opened
 * on the KMS with our connection key (found through OurKeys), the connection found from the two keys
 * (ConnectionsByKeys), the request carried out (confirmed messages removed, or the socket registered as
 * the wallet's live session) and the `status` Credo would answer packed on the KMS and written back on
 * the socket the message came on (its return route).
 *
 * Like the forward fast path it only ever accepts: anything it does not reproduce exactly (other
 * message types, decorators, keys that are not one of our DIDs', no ready connection, an HTTP
 * request already answered, live mode over HTTP) is handed back before anything is written, and
 * Credo processes it.
 */
export class PickupShortcut implements InboundShortcut {
  public constructor(private readonly deps: PickupShortcutDeps) {}

  public async tryHandle(job: InboundMessageJob, envelope: Record<string, unknown>, log: Logger): Promise<ShortcutResult> {
    const skip = (reason: PickupSkipReason) => {
      log.debug({ reason }, 'pickup fast path: left to Credo')
      return false
    }
    if (!isEnvelope(envelope)) return skip('not-envelope')
    const header = readProtectedHeader(envelope)
    if (!header || header.alg !== 'Authcrypt' || header.enc !== ENVELOPE_ENC) return skip('not-authcrypt')
    const recipient = header.recipients.length === 1 ? header.recipients[0] : undefined
    if (!recipient || recipient.header.sender === undefined || recipient.header.iv === undefined) return skip('not-authcrypt')
    // The reply goes back on the inbound socket; an HTTP request the relay already answered has none.
    if (job.transport === 'http' && !job.replyExpected) return skip('no-reply-channel')

    const { agentContext, kms } = this.deps
    const kid = recipient.header.kid
    // Before any lookup: a change made while it runs must leave a check stamped with this time untrusted.
    const checkedAt = Date.now()
    // A live socket's own messages (confirmations, above all) belong to the connection it went live
    // for: one Redis read instead of the storage lookups of a cold key.
    const found = job.transport === 'ws' ? await this.deps.socketSessions?.find(job.relayId, job.socketId, kid) : undefined
    const onSocket = found?.trusted ? found.session : undefined
    const ourKey = onSocket ? { keyId: onSocket.ourKeyId } : await this.deps.ourKeys.find(kid)
    if (!ourKey) return skip('not-our-key')
    let theirKey: string
    let plaintext: unknown
    try {
      theirKey = await openSenderKey(kms, agentContext, recipient, ourKey.keyId)
      const senderX25519 = this.deps.peers.get(theirKey).x25519
      const body = await openEnvelopeBody(kms, agentContext, envelope, recipient, ourKey.keyId, senderX25519)
      plaintext = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
    } catch (error) {
      // A forged box, a sender that is not a base58 key, a body that is not JSON: Credo reports those.
      // The key store unreachable is not the message's fault: retried, as on Credo's path.
      if (!isDecryptionFailure(error) && isTransientError(error)) throw error
      return skip('not-decryptable')
    }
    const request = readFastPickupRequest(plaintext)
    if (!request) return skip('not-fast-pickup-request')
    const { liveSessions } = this.deps
    // Credo ignores live mode over HTTP (nothing to push on) and still answers: left to it.
    if (request.kind === 'live-mode-on' && (!liveSessions || job.transport !== 'ws')) return skip('live-mode-not-on-socket')
    const attributed = attributeTo(onSocket, theirKey) ?? (await this.lookUp(theirKey, kid))
    if (!attributed) return skip('no-connection')

    // From here on it is accepted: Credo's handler, then its status reply on the session.
    const { queue } = this.deps
    const { connectionId, checkedDids } = attributed
    const connectionLog = log.child({ connectionId })
    // Live mode on registers the socket anew; a confirmation looked up for a session that was not
    // trusted vouches for it, so that the socket's next ones need no lookup.
    const vouching =
      found && !found.trusted && request.kind === 'messages-received'
        ? this.vouch(job, found.session, { connectionId, theirKey, ourKeyId: ourKey.keyId, checkedDids }, checkedAt, connectionLog)
        : undefined
    this.deps.pickupUsers?.markPickupUser(connectionId)
    let registering: Promise<void> | undefined
    if (request.kind === 'messages-received') {
      // In this order, as Credo does: the count the wallet acts on (it asks for more when it is not 0)
      // must not include what it just confirmed.
      if (request.messageIds.length > 0) await queue.removeMessages(agentContext, { connectionId, messageIds: request.messageIds })
    } else if (liveSessions) {
      // As Credo's processLiveDeliveryChange: the session is saved, and the count read, at the same time.
      const keys = {
        recipientKeys: [theirKey],
        senderKey: kid,
        senderKeyId: ourKey.keyId,
        ...(checkedDids.length > 0 ? { checkedDids } : {}),
      }
      const socket = { relayId: job.relayId, socketId: job.socketId, receivedAt: job.receivedAt }
      registering = liveSessions.startLiveSession(agentContext, connectionId, socket, keys, connectionLog)
      // Awaited below; a rejection meanwhile must not go unhandled.
      registering.catch(() => undefined)
    }
    try {
      const sender = { publicKey: kid, keyId: ourKey.keyId }
      const via = onSocket && attributed === onSocket ? 'socket' : 'lookup'
      return await this.answer(job, { request, via }, connectionId, theirKey, sender, registering, connectionLog)
    } finally {
      // The job completes only once the session is saved (what Credo's path waits for in BackgroundWrites).
      await registering
      await vouching
    }
  }

  /** Stamps the socket's session as checked, if the lookup found exactly it; a failure costs only speed. */
  private async vouch(job: InboundMessageJob, session: SocketSession, looked: SocketSession, checkedAt: number, log: Logger): Promise<void> {
    if (!this.deps.socketSessions || !sameSession(session, looked)) return
    try {
      const vouched = await this.deps.socketSessions.vouch(job.relayId, job.socketId, session, checkedAt)
      log.debug({ vouched, socketId: job.socketId }, 'socket session checked against storage')
    } catch (error) {
      log.warn({ err: error, socketId: job.socketId }, 'stamping a checked socket session failed')
    }
  }

  /** The ready connection of the two keys, as Credo's findByKeys finds it (cached). */
  private async lookUp(theirKey: string, ourKid: string): Promise<{ connectionId: string; checkedDids: string[] } | undefined> {
    const connection = await this.deps.connections.find(theirKey, ourKid)
    if (!connection) return undefined
    const dids = [connection.ourDid, connection.theirDid].filter((d): d is string => d !== undefined)
    return { connectionId: connection.connectionId, checkedDids: dids.map(didDigest) }
  }

  private async answer(
    job: InboundMessageJob,
    { request, via }: { request: FastPickupRequest; via: 'socket' | 'lookup' },
    connectionId: string,
    theirKey: string,
    sender: { publicKey: string; keyId: string },
    registering: Promise<void> | undefined,
    log: Logger,
  ): Promise<ShortcutResult> {
    const { agentContext, queue } = this.deps
    const messageCount = await queue.getAvailableMessageCount(agentContext, { connectionId })
    const status = statusMessageJson(request.id, messageCount, request.kind === 'live-mode-on' ? { liveDelivery: true } : {})
    const packed = await this.deps.packer.pack(agentContext, status, { recipientKeys: [theirKey], sender })
    const result = await this.deps.relay.send(job.relayId, job.socketId, JSON.stringify(packed))
    this.deps.onHandled?.(request.kind, via)
    if (result.outcome === 'written') {
      log.debug({ request: request.kind, messageCount, attributed: via }, 'pickup request handled (fast path)')
      return 'answered'
    }
    if (result.outcome === 'gone') {
      // As the job processor treats Credo's answer to a wallet that left: dropped, the socket's
      // session ended, the held request (if any) told "no reply" by the processor.
      log.info({ reason: result.reason }, 'answer dropped: the wallet is no longer connected')
      // Ended after it was saved, so that the session of a socket that is gone does not outlive it.
      await registering
      await this.deps.socketCloseHandler.socketClosed(job.relayId, job.socketId, log)
      return true
    }
    // Credo cannot queue a status either: the job ends as a dead letter, the held request answered.
    if (job.replyExpected) await this.deps.relay.disconnect(job.relayId, job.socketId)
    throw new StatusReplyUndeliverableError(result)
  }
}

/** The socket's session stands for the message only if the envelope's sender is the wallet it was checked with. */
function attributeTo(onSocket: SocketSession | undefined, theirKey: string): SocketSession | undefined {
  return onSocket && onSocket.theirKey === theirKey ? onSocket : undefined
}
