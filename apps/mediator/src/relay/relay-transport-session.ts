import { CredoError, type AgentContext } from '@credo-ts/core'
import type { DidCommEncryptedMessage, DidCommTransportSession } from '@credo-ts/didcomm'
import type { TransportKind } from '@mediator/contracts'
import type { RelayClient, RelayWriteOutcome } from './relay-client.js'

/** Thrown by `send` when the relay did not write; Credo then falls back to queueing the message. */
export class RelayWriteError extends CredoError {
  public constructor(public readonly result: Exclude<RelayWriteOutcome, { outcome: 'written' }>) {
    super(`Relay did not write to the socket: ${result.outcome} (${result.reason})`)
    this.name = 'RelayWriteError'
  }
}

/**
 * A Credo transport session for a socket that a relay holds. `send` writes through the relay's internal
 * API and throws on anything but "written", so Credo queues instead of losing the message. `close` never
 * closes the wallet's socket: Credo calls it after every message without return route, and the socket
 * belongs to the wallet, not to one message.
 */
export class RelayTransportSession implements DidCommTransportSession {
  /**
   * Credo keeps one session per connection and type, and drops the others of that type when one is
   * saved. Ours live as long as one job, and a worker runs several jobs of one wallet at once (e.g.
   * HTTP requests): each must keep its own session, or one job's answer is written to another's
   * request. So the type is unique per session: the transport's name plus the session id.
   */
  public readonly type: string
  public keys?: DidCommTransportSession['keys']
  public inboundMessage?: DidCommTransportSession['inboundMessage']
  public connectionId?: string
  /** Whether anything was written on this session (a held HTTP request needs exactly one answer). */
  public answered = false
  /** Set when the relay reported the socket gone, so the caller can drop directory entries. */
  public gone = false

  public constructor(
    public readonly id: string,
    public readonly relayId: string,
    public readonly socketId: string,
    public readonly transport: TransportKind,
    private readonly relay: RelayClient,
    /** When the relay read the message this session answers (orders live-session registrations). */
    public readonly receivedAt: number = Date.now(),
  ) {
    this.type = `${transport === 'ws' ? 'WebSocket' : 'http'}:${id}`
  }

  public async send(_agentContext: AgentContext, encryptedMessage: DidCommEncryptedMessage): Promise<void> {
    if (this.transport === 'http' && this.answered) {
      throw new CredoError(`HTTP request ${this.socketId} has already been answered`)
    }
    const result = await this.relay.send(this.relayId, this.socketId, JSON.stringify(encryptedMessage))
    if (result.outcome !== 'written') {
      if (result.outcome === 'gone') this.gone = true
      throw new RelayWriteError(result)
    }
    this.answered = true
  }

  public async close(): Promise<void> {
    // Deliberately nothing: see the class comment. A held HTTP request is answered by the job
    // processor once Credo is done with the message.
  }
}
