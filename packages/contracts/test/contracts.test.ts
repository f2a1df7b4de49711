import { describe, expect, it } from 'vitest'
import { inboundJobSchema, internalApiPaths, isSocketGone, RedisKeys } from '@mediator/contracts'

describe('inbound job schema', () => {
  it('accepts a message job and rejects an unknown version', () => {
    const job = {
      v: 1,
      kind: 'message',
      relayId: 'relay-1',
      socketId: 's-1',
      transport: 'ws',
      messageId: 'm-1',
      receivedAt: Date.now(),
      payload: '{"protected":"x"}',
      replyExpected: false,
      headers: {},
    }
    expect(inboundJobSchema.parse(job)).toEqual(job)
    expect(inboundJobSchema.safeParse({ ...job, v: 2 }).success).toBe(false)
  })
})

describe('internal api', () => {
  it('escapes socket ids in paths and classifies gone statuses', () => {
    expect(internalApiPaths.send('a/b')).toBe('/sockets/a%2Fb/send')
    expect(isSocketGone(404)).toBe(true)
    expect(isSocketGone(410)).toBe(true)
    expect(isSocketGone(503)).toBe(false)
  })
})

describe('RedisKeys', () => {
  it('refuses prefixes that would break the key layout', () => {
    expect(() => new RedisKeys('bad prefix')).toThrow(/Invalid Redis key prefix/)
    expect(new RedisKeys('med').relayHeartbeat('r1')).toBe('med:relay:r1:alive')
  })
})
