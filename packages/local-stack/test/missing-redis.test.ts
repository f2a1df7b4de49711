import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { findRedisServer, MissingRedisServerError } from '@mediator/local-stack'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const dirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'missing-redis-'))
  dirs.push(dir)
  return dir
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('npm start without a redis-server', () => {
  it('finds redis-server on PATH only where an executable one is', () => {
    const empty = tempDir()
    expect(() => findRedisServer(empty)).toThrow(MissingRedisServerError)
    const withOne = tempDir()
    writeFileSync(join(withOne, 'redis-server'), '#!/bin/sh\n')
    chmodSync(join(withOne, 'redis-server'), 0o755)
    expect(findRedisServer(`${empty}:${withOne}`)).toBe(join(withOne, 'redis-server'))
  })

  it('stops at once with what to install and the REDIS_URL alternative, exit code non-zero, nothing started', async () => {
    const stateDir = join(tempDir(), 'state')
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: tempDir(), LOCAL_STATE_DIR: stateDir }
    delete env.REDIS_URL
    delete env.DATABASE_URL
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(repoRoot, 'scripts/start-local.ts')], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const code = await new Promise<number | null>((res) => child.once('exit', res))
    expect(code).toBe(3)
    expect(stderr).toContain('no redis-server on PATH')
    expect(stderr).toContain('apt-get install redis-server')
    expect(stderr).toContain('brew install redis')
    expect(stderr).toContain('REDIS_URL=')
    expect(existsSync(stateDir)).toBe(false)
  })
})
