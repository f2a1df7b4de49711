import { describe, expect, it } from 'vitest'
import { ConfigError } from '@mediator/config'
import { loadRelayConfig } from '../src/index.js'

const base = { INTERNAL_SECRET: 'a-secret-of-20-chars' }

describe('relay configuration', () => {
  it('has documented defaults', () => {
    const c = loadRelayConfig(base)
    expect(c).toMatchObject({
      publicHost: '0.0.0.0',
      publicPort: 3000,
      internalPort: 4000,
      maxMessageBytes: 4 * 1024 * 1024,
      heartbeatIntervalMs: 30_000,
      forwardHeaders: [],
      jobAttempts: 10,
      jobBackoffMs: 1000,
    })
    expect(c.relayId).toMatch(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/)
    expect(c.jobRemoveOnComplete).toBeUndefined()
  })

  it('parses lists and retention', () => {
    const c = loadRelayConfig({ ...base, FORWARD_HEADERS: 'X-Forwarded-For, ,User-Agent', JOB_REMOVE_ON_COMPLETE: '3600:1000', JOB_REMOVE_ON_FAIL: 'false' })
    expect(c.forwardHeaders).toEqual(['x-forwarded-for', 'user-agent'])
    expect(c.jobRemoveOnComplete).toEqual({ age: 3600, count: 1000 })
    expect(c.jobRemoveOnFail).toBe(false)
  })

  it('refuses to start on a bad value and names the variable', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{}, 'INTERNAL_SECRET'],
      [{ INTERNAL_SECRET: 'short' }, 'INTERNAL_SECRET'],
      [{ ...base, PUBLIC_PORT: '70000' }, 'PUBLIC_PORT'],
      [{ ...base, HEARTBEAT_INTERVAL_MS: 'soon' }, 'HEARTBEAT_INTERVAL_MS'],
      [{ ...base, REDIS_URL: 'http://x' }, 'REDIS_URL'],
      [{ ...base, RELAY_ID: 'a b' }, 'RELAY_ID'],
      [{ ...base, JOB_REMOVE_ON_COMPLETE: 'maybe' }, 'JOB_REMOVE_ON_COMPLETE'],
    ]
    for (const [env, variable] of bad) {
      let error: unknown
      try {
        loadRelayConfig(env)
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).issues.map((i) => i.variable)).toContain(variable)
    }
  })
})
