import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import {
  internalApiPaths,
  isAllowedCloseCode,
  MAX_CLOSE_REASON_LENGTH,
  MAX_SOCKET_ID_LENGTH,
  SendStatus,
} from '@mediator/contracts'
import { ChannelProtocolError, decodeRequests, encodeReplies, MAX_BATCH_BYTES, MAX_FRAME_OVERHEAD, type ChannelRequest } from './frames.js'

/**
 * What the relay does for each call. Synchronous on purpose: a batch is answered in one message, in
 * order, as soon as it has been read, and writes to one wallet keep the order the worker made them in.
 */
export interface ChannelOperations {
  /** Writes `body` to the socket (or answers the held request); returns the internal API status. */
  send(socketId: string, body: Buffer): number
  /** Closes the socket with `code` (or answers the held request with "no reply"); returns the status. */
  disconnect(socketId: string, code: number, reason: string): number
}

export interface RelayChannelServerOptions {
  operations: ChannelOperations
  /** Checks the upgrade request's `Authorization` header (the internal shared secret). */
  authorize(authorizationHeader: string | undefined): boolean
  /** Largest body the relay writes to a socket; a bigger one is answered 413. */
  maxSendBytes: number
  /** A worker sent frames that do not parse, or an operation threw: the channel is closed (or 500 answered). */
  onError?(error: Error, context: { where: 'frames' | 'operation' }): void
  onChannelsChanged?(open: number): void
}

/** Close code for a peer that broke the frame format (RFC 6455 1002: protocol error). */
const PROTOCOL_ERROR = 1002

/** The relay's end of the channels: takes upgrades on the internal port and answers each batch of calls. */
export class RelayChannelServer {
  private readonly wss: WebSocketServer
  private readonly channels = new Set<WebSocket>()

  public constructor(private readonly options: RelayChannelServerOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // Room for a full batch, and for a body up to twice the limit: an oversized body is answered 413
      // instead of closing the channel under every other call in flight. Clients refuse bodies over the
      // announced limit themselves, so only a misconfigured one gets near this.
      maxPayload: Math.max(options.maxSendBytes * 2 + MAX_FRAME_OVERHEAD, MAX_BATCH_BYTES + MAX_FRAME_OVERHEAD),
    })
  }

  public get size(): number {
    return this.channels.size
  }

  /** Handles an `upgrade` on the internal server: the channel path with the secret, or a plain refusal. */
  public handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (request.url ?? '').split('?', 1)[0]
    if (path !== internalApiPaths.channel) return refuse(socket, 404, 'Not Found')
    if (!this.options.authorize(request.headers.authorization)) return refuse(socket, 401, 'Unauthorized')
    this.wss.handleUpgrade(request, socket, head, (channel) => this.accept(channel))
  }

  /** Closes every channel at once; workers reconnect to whichever relay is there. */
  public close(): void {
    for (const channel of this.channels) channel.terminate()
    this.channels.clear()
    this.wss.close()
    this.options.onChannelsChanged?.(0)
  }

  private accept(channel: WebSocket): void {
    this.channels.add(channel)
    this.options.onChannelsChanged?.(this.channels.size)
    channel.on('message', (data: RawData, isBinary: boolean) => {
      let requests: ChannelRequest[]
      try {
        if (!isBinary || !Buffer.isBuffer(data)) throw new ChannelProtocolError('the channel carries binary frames only')
        requests = decodeRequests(data)
      } catch (error) {
        this.options.onError?.(error as Error, { where: 'frames' })
        channel.close(PROTOCOL_ERROR, 'malformed frames')
        return
      }
      const replies = requests.map((request) => ({ requestId: request.requestId, status: this.answer(request) }))
      channel.send(encodeReplies(replies))
    })
    channel.on('close', () => {
      if (this.channels.delete(channel)) this.options.onChannelsChanged?.(this.channels.size)
    })
    // A reset connection is followed by 'close'; nothing else to do about it here.
    channel.on('error', () => undefined)
  }

  private answer(request: ChannelRequest): number {
    if (request.socketId.length === 0 || request.socketId.length > MAX_SOCKET_ID_LENGTH) return SendStatus.BadRequest
    try {
      if (request.op === 'send') {
        if (request.body.length === 0) return SendStatus.BadRequest
        if (request.body.length > this.options.maxSendBytes) return SendStatus.TooLarge
        return this.options.operations.send(request.socketId, request.body)
      }
      if (!isAllowedCloseCode(request.code) || request.reason.length > MAX_CLOSE_REASON_LENGTH) return SendStatus.BadRequest
      return this.options.operations.disconnect(request.socketId, request.code, request.reason)
    } catch (error) {
      this.options.onError?.(error as Error, { where: 'operation' })
      return 500
    }
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}
