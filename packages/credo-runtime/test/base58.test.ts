import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { TypedArrayEncoder } from '@credo-ts/core'
import { decodeBase58 } from '@mediator/credo-runtime'

describe('decodeBase58', () => {
  it('decodes exactly what Credo decodes, leading zero bytes included, at every length', () => {
    for (let length = 0; length <= 600; length++) {
      const bytes = randomBytes(length)
      // Leading zeros are spelled as leading '1's: some of every kind.
      if (length % 3 === 0) bytes.fill(0, 0, Math.min(length, length % 7))
      if (length % 11 === 0) bytes.fill(0)
      const encoded = TypedArrayEncoder.toBase58(bytes)
      expect(Buffer.from(decodeBase58(encoded)).equals(Buffer.from(TypedArrayEncoder.fromBase58(encoded))), encoded).toBe(true)
      expect(Buffer.from(decodeBase58(encoded)).equals(bytes)).toBe(true)
    }
  })

  it('decodes a did:peer:4-sized document (2 KB) and the empty string', () => {
    const bytes = randomBytes(2_000)
    expect(Buffer.from(decodeBase58(TypedArrayEncoder.toBase58(bytes))).equals(bytes)).toBe(true)
    expect(decodeBase58('')).toEqual(new Uint8Array())
    expect(decodeBase58('111')).toEqual(new Uint8Array([0, 0, 0]))
  })

  it('refuses characters outside the alphabet, as Credo does', () => {
    for (const bad of ['0', 'O', 'I', 'l', '+', ' ', 'é', 'abc0def']) {
      expect(() => decodeBase58(bad), bad).toThrow(/Non-base58/)
      expect(() => TypedArrayEncoder.fromBase58(bad), bad).toThrow()
    }
  })
})
