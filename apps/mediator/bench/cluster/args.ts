import { parseArgs } from 'node:util'
import { z } from 'zod'

export const SCENARIOS = ['density', 'throughput', 'storm', 'chaos', 'baseline'] as const
export const FAULTS = ['kill-worker', 'kill-relay', 'kill-redis', 'stop-postgres'] as const
export type Scenario = (typeof SCENARIOS)[number]

const int = (min: number) => z.coerce.number().int().min(min)

const argsSchema = z.object({
  relays: int(1),
  workers: int(1),
  wallets: int(1),
  /** Wallets whose connection and mediation real Credo agents set up; the others' are seeded. */
  credoWallets: int(1),
  /** Highest forward rate of the throughput ramp (forwards/s). */
  rate: int(1),
  /** Seconds of each throughput step, of CPU at rest, and of each chaos fault window. */
  duration: int(5),
  scenario: z.array(z.enum(SCENARIOS)).min(1),
  faults: z.array(z.enum(FAULTS)).min(1),
  ackMs: int(50),
  reportDir: z.string().min(1),
  out: z.string().min(1),
})
export type ClusterArgs = z.infer<typeof argsSchema>

export const USAGE = `npm run bench:cluster -- [options]
  --relays R        relay processes (default 6: 100,000 sockets at under 20,000 each)
  --workers W       mediator worker processes (default 2; throughput runs with 1, then W)
  --wallets N       live wallet sockets (default 100000)
  --credo-wallets C wallets whose connection + mediation + keylist-update real Credo agents do through
                    the protocol (default 300, at most N); the other N - C connections are seeded into
                    the mediator's store with the same records. One connection per wallet socket.
  --rate M          highest forward rate of the throughput ramp, per second (default 1000, the goal's)
  --duration S      seconds per throughput step, for CPU at rest and per chaos fault (default 20)
  --scenario NAME   density | throughput | storm | chaos | baseline | all (repeatable; default all)
  --fault NAME      chaos faults, in order: kill-worker | kill-relay | kill-redis | stop-postgres (repeatable; default all)
  --ack-ms MS       how often a wallet confirms what it received (default 1000)
  --report-dir DIR  Markdown report and PNG charts (default docs/bench-report)
  --out FILE        figures (default bench-results/cluster.json)`

export function parseClusterArgs(argv: string[]): ClusterArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      relays: { type: 'string', default: '6' },
      workers: { type: 'string', default: '2' },
      wallets: { type: 'string', default: '100000' },
      'credo-wallets': { type: 'string', default: '300' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '20' },
      scenario: { type: 'string', multiple: true, default: ['all'] },
      fault: { type: 'string', multiple: true, default: [...FAULTS] },
      'ack-ms': { type: 'string', default: '1000' },
      'report-dir': { type: 'string', default: 'docs/bench-report' },
      out: { type: 'string', default: 'bench-results/cluster.json' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const scenario = values.scenario.flatMap((s) => s.split(',')).flatMap((s) => (s === 'all' ? [...SCENARIOS] : [s]))
  const parsed = argsSchema.safeParse({
    relays: values.relays,
    workers: values.workers,
    wallets: values.wallets,
    credoWallets: values['credo-wallets'],
    rate: values.rate,
    duration: values.duration,
    scenario: [...new Set(scenario)],
    faults: values.fault.flatMap((f) => f.split(',')),
    ackMs: values['ack-ms'],
    reportDir: values['report-dir'],
    out: values.out,
  })
  if (!parsed.success) {
    throw new Error(`${z.prettifyError(parsed.error)}\n\n${USAGE}`)
  }
  return { ...parsed.data, credoWallets: Math.min(parsed.data.credoWallets, parsed.data.wallets) }
}
