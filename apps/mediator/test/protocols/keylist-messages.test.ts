import { describe, expect, it } from 'vitest'
import { JsonTransformer } from '@credo-ts/core'
import { KeylistMessage, KeylistQueryMessage, KeylistUpdateRequestMessage } from '../../src/protocols/index.js'

const protocol = 'https://didcomm.org/coordinate-mediation/1.0'

describe('coordinate-mediation messages without decorators', () => {
  it('JsonTransformer builds a keylist-update with its entries as sent, even invalid ones', () => {
    const json = {
      '@type': `${protocol}/keylist-update`,
      '@id': '4c4d9ad7-2b1c-4d62-9a47-0d2c1e6a4f10',
      '~thread': { thid: 'thread-0001' },
      updates: [
        { recipient_key: 'did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH', action: 'add' },
        { recipient_key: 'x', action: 'frobnicate' },
        42,
      ],
    }
    const message = JsonTransformer.fromJSON(json, KeylistUpdateRequestMessage)
    expect(message).toBeInstanceOf(KeylistUpdateRequestMessage)
    expect(message.id).toBe(json['@id'])
    expect(message.threadId).toBe('thread-0001')
    expect(message.type).toBe(`${protocol}/keylist-update`)
    expect(message.updates).toEqual(json.updates)
  })

  it('JsonTransformer builds a keylist-query with and without paginate', () => {
    const withPage = JsonTransformer.fromJSON(
      { '@type': `${protocol}/keylist-query`, '@id': 'query-00000001', paginate: { limit: 2, offset: 1 }, filter: {} },
      KeylistQueryMessage,
    )
    expect(withPage.paginate).toEqual({ limit: 2, offset: 1 })
    expect(withPage.filter).toEqual({})
    const plain = JsonTransformer.fromJSON({ '@type': `${protocol}/keylist-query`, '@id': 'query-00000002' }, KeylistQueryMessage)
    expect(plain.paginate).toBeUndefined()
  })

  it('still refuses a message without a valid @id (the base class validation stays)', () => {
    expect(() =>
      JsonTransformer.fromJSON({ '@type': `${protocol}/keylist-query`, '@id': 'x' }, KeylistQueryMessage),
    ).toThrow()
  })

  it('writes a keylist in the RFC 0211 shape', () => {
    const message = new KeylistMessage({
      threadId: 'thread-0002',
      keys: ['did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH'],
      pagination: { count: 1, offset: 0, remaining: 0 },
    })
    expect(message.toJSON()).toEqual({
      '@type': `${protocol}/keylist`,
      '@id': message.id,
      '~thread': { thid: 'thread-0002' },
      keys: [{ recipient_key: 'did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH' }],
      pagination: { count: 1, offset: 0, remaining: 0 },
    })
    const roundTrip = JsonTransformer.fromJSON(message.toJSON(), KeylistMessage)
    expect(roundTrip.keys).toEqual(message.keys)
  })
})
