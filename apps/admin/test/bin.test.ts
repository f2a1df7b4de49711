import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createTestRedisPrefix, runToExit } from '@mediator/test-support'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** Runs the command as an operator does, through the link npm puts in node_modules/.bin. */
function mediatorAdmin(args: string[], env: Record<string, string> = {}) {
  return runToExit(resolve(repoRoot, 'node_modules/.bin/mediator-admin'), args, { cwd: repoRoot, env })
}

describe('the mediator-admin bin', () => {
  it('runs from the sources without a build: --help, and a command against Redis', async () => {
    const help = await mediatorAdmin(['--help'])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^mediator-admin: the operator's tool/)
    expect(help.stdout).toContain('dead-letters replay <id...>')

    const redis = await createTestRedisPrefix('admin_bin')
    try {
      const status = await mediatorAdmin(['status', '--json'], { REDIS_URL: redis.redisUrl, REDIS_PREFIX: redis.prefix })
      expect(status.code, status.stderr).toBe(0)
      expect(JSON.parse(status.stdout)).toMatchObject({ prefix: redis.prefix, deadLetters: 0 })
      // No terminal to ask on: a purge without --yes is not confirmed, and removes nothing.
      const purge = await mediatorAdmin(['dead-letters', 'purge', 'some-id'], { REDIS_URL: redis.redisUrl, REDIS_PREFIX: redis.prefix })
      expect(purge.code).toBe(4)
      expect(purge.stderr).toMatch(/not confirmed: nothing removed/)
    } finally {
      await redis.cleanup()
    }

    const usage = await mediatorAdmin(['dead-letters', 'list', '--since', 'soon'])
    expect(usage.code).toBe(2)
    expect(usage.stderr.trim().split('\n')).toHaveLength(1)
  })
})
