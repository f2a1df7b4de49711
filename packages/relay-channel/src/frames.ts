/**
 * The channel's wire format. One WebSocket binary message carries a batch of frames, so a worker that
 * has several writes for one relay in the same turn of its event loop sends them in one write.
 *
 * Request frame:  u32 length of the rest | u8 op | u32 request id | u16 socket id bytes | socket id (UTF-8)
 *                 | payload: the body to write (send), or u16 close code + reason (UTF-8) (disconnect)
 * Reply:          u32 request id | u16 status (the internal API's HTTP status for the same call)
 *
 * All integers are big-endian. A relay answers every request of a batch, in order, in one message.
 */

export const ChannelOp = { Send: 1, Disconnect: 2 } as const

export type ChannelRequest =
  | { op: 'send'; requestId: number; socketId: string; body: Buffer }
  | { op: 'disconnect'; requestId: number; socketId: string; code: number; reason: string }

export interface ChannelReply {
  requestId: number
  status: number
}

/** A request as a client hands it over: the body may still be a string, written straight into the batch. */
export type OutgoingRequest =
  | { op: 'send'; requestId: number; socketId: string; body: string | Uint8Array }
  | { op: 'disconnect'; requestId: number; socketId: string; code: number; reason: string }

/** Batches a client builds stay below this size; one frame that is bigger on its own goes alone. */
export const MAX_BATCH_BYTES = 256 * 1024
/** What a frame adds around its payload, at most: the header and a socket id of up to 1 KiB. */
export const MAX_FRAME_OVERHEAD = 4 + 1 + 4 + 2 + 1024 + 2
const HEADER_BYTES = 4 + 1 + 4 + 2
const REPLY_BYTES = 4 + 2

/** The peer sent something that is not a batch of frames: a bug on the other side, never a wallet's doing. */
export class ChannelProtocolError extends Error {
  public constructor(message: string) {
    super(message)
    this.name = 'ChannelProtocolError'
  }
}

interface SizedRequest {
  request: OutgoingRequest
  socketIdBytes: number
  payloadBytes: number
}

/** Requests collected for one message; `toBuffer` writes them all into a single allocation. */
export class RequestBatch {
  private readonly items: SizedRequest[] = []
  private bytes = 0

  /** Adds a request and returns the size of its frame. */
  public add(request: OutgoingRequest): number {
    const sized = sizeOf(request)
    this.push(sized)
    return frameBytesOf(sized)
  }

  /**
   * Adds a request unless the batch would grow past `maxBytes`; an empty batch takes any request (a
   * frame bigger than the limit travels alone). Sizes the request once.
   */
  public addIfFits(request: OutgoingRequest, maxBytes: number): boolean {
    const sized = sizeOf(request)
    if (this.items.length > 0 && this.bytes + frameBytesOf(sized) > maxBytes) return false
    this.push(sized)
    return true
  }

  private push(sized: SizedRequest): void {
    this.items.push(sized)
    this.bytes += frameBytesOf(sized)
  }

  public toBuffer(): Buffer {
    const out = Buffer.allocUnsafe(this.bytes)
    let at = 0
    for (const { request, socketIdBytes, payloadBytes } of this.items) {
      at = out.writeUInt32BE(1 + 4 + 2 + socketIdBytes + payloadBytes, at)
      at = out.writeUInt8(request.op === 'send' ? ChannelOp.Send : ChannelOp.Disconnect, at)
      at = out.writeUInt32BE(request.requestId, at)
      at = out.writeUInt16BE(socketIdBytes, at)
      at += out.write(request.socketId, at, 'utf8')
      if (request.op === 'send') {
        at += typeof request.body === 'string' ? out.write(request.body, at, 'utf8') : copyInto(out, request.body, at)
      } else {
        at = out.writeUInt16BE(request.code, at)
        at += out.write(request.reason, at, 'utf8')
      }
    }
    return out
  }
}

/** The size a request's frame will have, without building it. */
export function frameByteLength(request: OutgoingRequest): number {
  return frameBytesOf(sizeOf(request))
}

function frameBytesOf({ socketIdBytes, payloadBytes }: SizedRequest): number {
  return HEADER_BYTES + socketIdBytes + payloadBytes
}

function sizeOf(request: OutgoingRequest): SizedRequest {
  const socketIdBytes = Buffer.byteLength(request.socketId, 'utf8')
  const payloadBytes =
    request.op === 'send'
      ? typeof request.body === 'string'
        ? Buffer.byteLength(request.body, 'utf8')
        : request.body.byteLength
      : 2 + Buffer.byteLength(request.reason, 'utf8')
  return { request, socketIdBytes, payloadBytes }
}

function copyInto(out: Buffer, body: Uint8Array, at: number): number {
  out.set(body, at)
  return body.byteLength
}

/** Reads every request of a batch. Bodies are views into `message`, not copies. */
export function decodeRequests(message: Buffer): ChannelRequest[] {
  const requests: ChannelRequest[] = []
  let at = 0
  while (at < message.length) {
    if (message.length - at < 4) throw new ChannelProtocolError('truncated frame length')
    const length = message.readUInt32BE(at)
    const end = at + 4 + length
    if (length < HEADER_BYTES - 4 || end > message.length) throw new ChannelProtocolError('frame length out of bounds')
    const op = message.readUInt8(at + 4)
    const requestId = message.readUInt32BE(at + 5)
    const socketIdBytes = message.readUInt16BE(at + 9)
    const idStart = at + HEADER_BYTES
    const payloadStart = idStart + socketIdBytes
    if (payloadStart > end) throw new ChannelProtocolError('socket id runs past its frame')
    const socketId = message.toString('utf8', idStart, payloadStart)
    if (op === ChannelOp.Send) {
      requests.push({ op: 'send', requestId, socketId, body: message.subarray(payloadStart, end) })
    } else if (op === ChannelOp.Disconnect) {
      if (end - payloadStart < 2) throw new ChannelProtocolError('disconnect frame without a close code')
      const code = message.readUInt16BE(payloadStart)
      requests.push({ op: 'disconnect', requestId, socketId, code, reason: message.toString('utf8', payloadStart + 2, end) })
    } else {
      throw new ChannelProtocolError(`unknown op ${op}`)
    }
    at = end
  }
  return requests
}

export function encodeReplies(replies: readonly ChannelReply[]): Buffer {
  const out = Buffer.allocUnsafe(replies.length * REPLY_BYTES)
  let at = 0
  for (const reply of replies) {
    at = out.writeUInt32BE(reply.requestId, at)
    at = out.writeUInt16BE(reply.status, at)
  }
  return out
}

export function decodeReplies(message: Buffer): ChannelReply[] {
  if (message.length % REPLY_BYTES !== 0) throw new ChannelProtocolError('reply batch of a size no reply adds up to')
  const replies: ChannelReply[] = []
  for (let at = 0; at < message.length; at += REPLY_BYTES) {
    replies.push({ requestId: message.readUInt32BE(at), status: message.readUInt16BE(at + 4) })
  }
  return replies
}
