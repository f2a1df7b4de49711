import { afterAll, beforeAll } from 'vitest'
import { TestCluster } from './cluster.js'
import { ClusterProbe } from './cluster-probe.js'
import type { TestSender, TestWallet } from './agents.js'

export interface ClusterScenario {
  readonly cluster: TestCluster
  readonly probe: ClusterProbe
  /** Set by the test; closed after the file's tests. */
  wallet?: TestWallet
  sender?: TestSender
  /** Rethrows with what a failure needs to be understood: deliveries, queues, every process's output. */
  failWithLogs(error: Error): Promise<never>
}

type StartOptions = Parameters<typeof TestCluster.start>[0]

/**
 * Worker settings for tests that kill a worker. Its jobs come back once their lock expired and a
 * stalled-job check ran: seconds, not the production 30 s + 15 s (the lock is renewed every 3 s,
 * plenty on a loaded machine). The lease is longer than the test: what comes back must come back by a
 * release or a retry, not by a lease running out under load while a confirmation is on its way
 * (which would make a second delivery cross that confirmation on the wire).
 */
export const WORKER_KILL_ENV: Readonly<Record<string, string>> = {
  INBOUND_LOCK_DURATION_MS: '6000',
  INBOUND_STALLED_INTERVAL_MS: '2000',
  PICKUP_LEASE_MS: '120000',
}

export interface ClusterScenarioHooks {
  /** Runs before the cluster starts; what it returns is added to the start options (a `redisUrl`, say). */
  beforeStart?(): Promise<Partial<StartOptions>>
  /** Runs after the cluster stopped (to stop what `beforeStart` started). */
  afterStop?(): Promise<void>
}

/**
 * A cluster (with a probe on it) started before a file's tests and stopped after them, with the
 * wallet and sender the tests create closed first, even when a test failed half-way.
 */
export function useClusterScenario(options: StartOptions, hooks: ClusterScenarioHooks = {}): ClusterScenario {
  let cluster: TestCluster | undefined
  let probe: ClusterProbe | undefined
  const scenario: ClusterScenario = {
    get cluster() {
      if (!cluster) throw new Error('the cluster is not started')
      return cluster
    },
    get probe() {
      if (!probe) throw new Error('the cluster is not started')
      return probe
    },
    async failWithLogs(error: Error): Promise<never> {
      const deliveries = scenario.wallet ? `${scenario.wallet.tracker.summary()}\n` : ''
      throw new Error(`${error.message}\n${deliveries}${(await probe?.describe()) ?? ''}\n${cluster?.logs() ?? ''}`)
    },
  }
  beforeAll(async () => {
    const extra = (await hooks.beforeStart?.()) ?? {}
    cluster = await TestCluster.start({ ...options, ...extra })
    probe = new ClusterProbe(cluster)
  })
  afterAll(async () => {
    try {
      await scenario.sender?.close()
      await scenario.wallet?.close()
    } finally {
      await probe?.close()
      await cluster?.stop()
      await hooks.afterStop?.()
    }
  })
  return scenario
}
