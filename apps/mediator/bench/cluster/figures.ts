import type { BaselineResult } from './scenarios/baseline.js'
import type { ChaosResult } from './scenarios/chaos.js'
import type { DensityResult } from './scenarios/density.js'
import type { StormResult } from './scenarios/storm.js'
import type { ThroughputResult } from './scenarios/throughput.js'

/** bench-results/cluster.json. */
export interface ClusterFigures {
  benchmark: 'cluster'
  date: string
  command: string
  machine: {
    cpus: number
    cpu_model: string
    memory_bytes: number
    node: string
    haproxy: string
    kernel: string
    load_average_start: number[]
    load_average_end?: number[]
    /** CPU time the hypervisor took over the whole run, in percent (see machine-steal.ts). */
    steal_percent?: number
  }
  topology: { relays: number; workers: number; balancers: number; load_processes: number }
  setup: { credo_wallets: number; seeded_connections: number; wallets: number; credo_setup_s: number; seed_s: number; connect_s: number; connect_cpu_ms_per_wallet: Record<string, number> }
  sockets_held: number | null
  rss_per_socket_bytes: number | null
  storm_reregister_s: number | null
  /** Summed over every scenario and fault. */
  lost: number
  delivered_after_confirmation: number
  p99_ms_at_1000_per_s: number | null
  density?: DensityResult
  throughput?: ThroughputResult
  storm?: StormResult
  chaos?: ChaosResult
  baseline?: BaselineResult
}
