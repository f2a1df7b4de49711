import { defineConfig } from 'vitest/config'

// Tests run the TypeScript sources of the workspace packages directly (the `source` export
// condition), so no build is needed before `npm test`.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    // Tests are mostly waiting on Postgres, Redis and sockets, so more workers than cores pays off.
    maxWorkers: 4,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
