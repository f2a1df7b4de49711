import { RedisKeys } from '@mediator/contracts'

/**
 * Key layout of the live-session directory, all under `{prefix}:sd:`. Relay and socket ids are
 * URI-encoded inside key names, so an id containing ':' cannot make two sockets share a key.
 */
export class SessionDirectoryKeys {
  /** `{prefix}:sd` */
  public readonly root: string

  public constructor(prefix: string | RedisKeys) {
    const keys = typeof prefix === 'string' ? new RedisKeys(prefix) : prefix
    this.root = `${keys.prefix}:sd`
  }

  /** Prefix of the entry keys; an entry is `{prefix}:sd:conn:{connectionId}`. */
  public get entryPrefix(): string {
    return `${this.root}:conn:`
  }

  /** HASH: where the connection's live session is (see LiveSessionEntry). */
  public entry(connectionId: string): string {
    return `${this.entryPrefix}${connectionId}`
  }

  /** SET of connectionIds whose entry was registered on this socket. */
  public socket(relayId: string, socketId: string): string {
    return `${this.root}:sock:${encodeURIComponent(relayId)}:${encodeURIComponent(socketId)}`
  }

  /** Short-lived marker of a socket that was removed, so late registrations for it are refused. */
  public socketClosed(relayId: string, socketId: string): string {
    return `${this.socket(relayId, socketId)}:closed`
  }

  /** SET of the socket index keys (see `socket`) of one relay. */
  public relay(relayId: string): string {
    return `${this.root}:relay:${encodeURIComponent(relayId)}`
  }
}
