import { describe, expect, it } from 'vitest'
import { ChannelProtocolError, decodeReplies, decodeRequests, encodeReplies, frameByteLength, RequestBatch } from '../src/index.js'

describe('channel frames', () => {
  it('carries sends (string and bytes) and disconnects through one batch, in order', () => {
    const batch = new RequestBatch()
    const requests = [
      { op: 'send', requestId: 1, socketId: 'sock-é', body: '{"protected":"ü"}' },
      { op: 'send', requestId: 0xffffffff, socketId: 's2', body: new Uint8Array([0, 1, 2, 255]) },
      { op: 'disconnect', requestId: 7, socketId: 's3', code: 4001, reason: 'bye ✓' },
      { op: 'disconnect', requestId: 8, socketId: 's4', code: 1000, reason: '' },
    ] as const
    let bytes = 0
    for (const r of requests) {
      const size = batch.add(r)
      expect(size).toBe(frameByteLength(r))
      bytes += size
    }
    const buffer = batch.toBuffer()
    expect(buffer.length).toBe(bytes)
    const decoded = decodeRequests(buffer)
    expect(decoded.map((r) => r.requestId)).toEqual([1, 0xffffffff, 7, 8])
    expect(decoded[0]).toMatchObject({ op: 'send', socketId: 'sock-é' })
    expect(decoded[0]?.op === 'send' && decoded[0].body.toString('utf8')).toBe('{"protected":"ü"}')
    expect(decoded[1]?.op === 'send' && [...decoded[1].body]).toEqual([0, 1, 2, 255])
    expect(decoded[2]).toEqual({ op: 'disconnect', requestId: 7, socketId: 's3', code: 4001, reason: 'bye ✓' })
    expect(decoded[3]).toEqual({ op: 'disconnect', requestId: 8, socketId: 's4', code: 1000, reason: '' })
  })

  it('round-trips replies', () => {
    const replies = [
      { requestId: 1, status: 200 },
      { requestId: 0xfffffffe, status: 410 },
    ]
    expect(decodeReplies(encodeReplies(replies))).toEqual(replies)
  })

  it('refuses what is not a batch of frames', () => {
    const good = new RequestBatch()
    good.add({ op: 'send', requestId: 1, socketId: 'abc', body: 'x' })
    const buffer = good.toBuffer()
    expect(() => decodeRequests(buffer.subarray(0, buffer.length - 1))).toThrow(ChannelProtocolError)
    expect(() => decodeRequests(Buffer.from([0, 0]))).toThrow(ChannelProtocolError)
    const unknownOp = Buffer.from(buffer)
    unknownOp.writeUInt8(9, 4)
    expect(() => decodeRequests(unknownOp)).toThrow(/unknown op 9/)
    const idTooLong = Buffer.from(buffer)
    idTooLong.writeUInt16BE(500, 9)
    expect(() => decodeRequests(idTooLong)).toThrow(/socket id/)
    const noCode = new RequestBatch()
    noCode.add({ op: 'disconnect', requestId: 2, socketId: 'abc', code: 1000, reason: '' })
    expect(() => decodeRequests(noCode.toBuffer().subarray(0, -2))).toThrow(ChannelProtocolError)
    expect(() => decodeReplies(Buffer.alloc(7))).toThrow(ChannelProtocolError)
  })
})
