import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ConfigError, envBool, envInt, envList, parseEnv } from '@mediator/config'

const schema = z.object({
  PORT: envInt({ min: 1, max: 65535 }).default(3000),
  DEBUG: envBool().default(false),
  HOSTS: envList().default([]),
  SECRET: z.string().min(16, 'must be at least 16 characters'),
})

describe('parseEnv', () => {
  it('applies defaults and coerces values', () => {
    expect(parseEnv(schema, { SECRET: 'x'.repeat(16), DEBUG: 'yes', HOSTS: 'a, b,,c' })).toEqual({
      PORT: 3000,
      DEBUG: true,
      HOSTS: ['a', 'b', 'c'],
      SECRET: 'x'.repeat(16),
    })
  })

  it('treats empty strings as unset', () => {
    expect(parseEnv(schema, { SECRET: 'x'.repeat(16), PORT: '' }).PORT).toBe(3000)
  })

  it('names every bad variable', () => {
    try {
      parseEnv(schema, { PORT: 'eighty', SECRET: 'short' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const message = (error as Error).message
      expect(message).toContain('PORT')
      expect(message).toContain('SECRET: must be at least 16 characters')
    }
  })
})
