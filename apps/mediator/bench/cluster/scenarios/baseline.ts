import { startBaselineProcess } from '../../support/baseline-process.js'
import { cpuMs } from '../../support/proc-stat.js'
import { ForwardSender } from '../forward-sender.js'
import { DeliveryLedger } from '../load/delivery-ledger.js'
import { LoadFleet } from '../load/load-fleet.js'
import { setUpWalletFleet } from '../wallet-fleet.js'
import { maxHeld, ramp, type RampStep } from './ramp.js'

export interface BaselineResult {
  wallets: number
  max_held_per_s: number
  steps: RampStep[]
}

const BASELINE_WALLETS = 16

/**
 * Stock Credo 0.6.3 as one process (bench/baseline-mediator.ts), the same ramp, the same kind of
 * wallets (set up by Credo agents, then raw live-mode clients), no balancer: it cannot have one.
 */
export async function baseline(options: { databaseUrl: string; maxRate: number; stepSeconds: number; ackMs: number; log: (t: string) => void }): Promise<BaselineResult> {
  const { log } = options
  const mediator = await startBaselineProcess()
  const ledger = new DeliveryLedger()
  const sender = new ForwardSender([mediator.url], ledger)
  let load: LoadFleet | undefined
  const fleet = await setUpWalletFleet({
    databaseUrl: options.databaseUrl,
    invitationUrl: mediator.invitationUrl,
    endpoints: [mediator.url],
    credoWallets: BASELINE_WALLETS,
    sockets: BASELINE_WALLETS,
    log,
  })
  try {
    load = new LoadFleet({
      keys: fleet.keys,
      connections: fleet.connections,
      socketConnection: fleet.wallets.map((w) => w.connection),
      urls: [mediator.url],
      ackMs: options.ackMs,
      onEvents: (e) => ledger.apply(e),
      log,
    })
    await load.connect()
    const rates = [40, 80, 120, 160, 200, 300, 400, 600, 800, 1000].filter((r) => r <= options.maxRate)
    const steps = await ramp({
      label: 'baseline',
      fleet,
      targets: fleet.wallets,
      sender,
      ledger,
      rates,
      stepSeconds: options.stepSeconds,
      cpuOf: () => ({ baseline: cpuMs(mediator.pid) }),
      log,
      stopAtFirstFailure: true,
    })
    return { wallets: BASELINE_WALLETS, max_held_per_s: maxHeld(steps), steps }
  } finally {
    await load?.stop()
    sender.close()
    await fleet.close()
    await mediator.stop()
  }
}
