import { defineConfig } from 'vitest/config'

// Tests run the TypeScript sources of the workspace packages directly (the `source` export
// condition), so no build is needed before `npm test`.
const source = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
}

export default defineConfig({
  ...source,
  test: {
    environment: 'node',
    pool: 'forks',
    projects: [
      {
        ...source,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'helm/test/**/*.test.ts', 'infra/test/**/*.test.ts'],
          exclude: ['apps/mediator/test/e2e/**'],
          // Mostly waiting on Postgres, Redis and sockets: more workers than cores pays off.
          maxWorkers: 4,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        ...source,
        test: {
          name: 'e2e',
          // Each file starts a cluster of relay and worker processes: on two cores, two at a time.
          include: ['apps/mediator/test/e2e/**/*.test.ts'],
          maxWorkers: 2,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
