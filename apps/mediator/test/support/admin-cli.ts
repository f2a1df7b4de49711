import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import { runToExit, testDatabaseUrl, type ProcessResult } from '@mediator/test-support'
import type { TestCluster } from './cluster.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')

/**
 * Runs `mediator-admin` as an operator does on a cluster member: the bin npm linked, as its own
 * process, with the cluster's Redis prefix and Postgres schema in the environment.
 */
export function mediatorAdmin(cluster: TestCluster, args: readonly string[]): Promise<ProcessResult> {
  return runToExit(resolve(repoRoot, 'node_modules/.bin/mediator-admin'), args, {
    cwd: repoRoot,
    env: {
      REDIS_URL: cluster.redis.redisUrl,
      REDIS_PREFIX: cluster.redis.prefix,
      DATABASE_URL: testDatabaseUrl(),
      DATABASE_SCHEMA: cluster.db.schema,
    },
  })
}

/** `mediatorAdmin` with `--json`, expecting `code`; the parsed result. */
export async function mediatorAdminJson<T = Record<string, unknown>>(cluster: TestCluster, args: readonly string[], code = 0): Promise<T> {
  const run = await mediatorAdmin(cluster, [...args, '--json'])
  if (run.code !== code) throw new Error(`mediator-admin ${args.join(' ')} exited ${run.code}, expected ${code}:\n${run.stderr}${run.stdout}`)
  return JSON.parse(run.stdout) as T
}
