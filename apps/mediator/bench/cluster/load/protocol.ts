/** What the harness and its load processes say to each other over IPC. */

export interface KeysDatabase {
  url: string
  schema: string
  masterKeyHex: string
}

/** A real mediated connection (set up by a Credo agent) that wallet sockets speak on. */
export interface FleetConnection {
  label: string
  /** The wallet's key on the connection: its KMS key id and base58 public key. */
  keyId: string
  publicKey: string
  /** The mediator's key on the connection. */
  mediatorKey: string
  /** The mediator's routing key given in the mediation grant. */
  routingKey: string
  /** The key the Credo agent itself registered (keylist-update through Credo). */
  recipientKey: string
}

export interface StartTask {
  type: 'start'
  keys: KeysDatabase
  /** Socket ids and the connection each speaks on (only this process's: 100,000 would not pass IPC). */
  sockets: Array<{ id: number; connection: FleetConnection }>
  urls: string[]
  localAddress: string
  concurrency: number
  ackMs: number
}

export type ToLoad = StartTask | { type: 'stop' }

export interface LoadEvents {
  type: 'events'
  /** [inner tag, pickup message id, epoch ms] of every delivered message. */
  deliveries: Array<[string, string, number]>
  /** pickup message ids whose messages-received the mediator answered, and when the answer came. */
  confirmed: Array<[string, number]>
  /** [socket id, epoch ms]: live mode confirmed (after connect or reconnect). */
  live: Array<[number, number]>
  /** [socket id, epoch ms]: a socket that went away without the client closing it. */
  dropped: Array<[number, number]>
  /** Attempts that did not end live, by how they ended (WalletClient's onOutcome), since the last batch. */
  outcomes: Record<string, number>
  /** How many of the process's clients are in each phase (WalletClient.phase), every few seconds. */
  phases?: Record<string, number>
  /**
   * With `phases`: the longest the process's event loop was held up since the last report (ms). A load
   * process late by more than the relay's heartbeat sweep answers pings too late for the relay.
   */
  loopDelayMaxMs?: number
}

export type FromLoad =
  | { type: 'ready' }
  /** `cpuMs`: the process's CPU from the start task to here, its wallets' going live (its own start excluded). */
  /** `failures`: wallets given up, by why their last attempt failed (connectFailureKind). */
  | { type: 'connected'; live: number; failures: Record<string, number>; fds: number; cpuMs: number }
  | LoadEvents
