import { Counter, type Registry } from 'prom-client'

/** Counters of the mediator's protocol decisions, registered on the worker's registry. */
export class ProtocolMetrics {
  public readonly mediationRequests: Counter<'outcome'>
  public readonly keylistUpdates: Counter<'action' | 'result'>
  public readonly keylistConflictRetries: Counter
  public readonly keylistContested: Counter
  public readonly unroutableForwards: Counter<'reason'>

  public constructor(registry: Registry) {
    this.mediationRequests = new Counter({
      name: 'mediator_mediation_requests_total',
      help: 'Mediation requests answered, by outcome (granted, denied)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    })
    this.keylistUpdates = new Counter({
      name: 'mediator_keylist_updates_total',
      help: 'Keylist update entries processed, by action and RFC 0211 result',
      labelNames: ['action', 'result'] as const,
      registers: [registry],
    })
    this.keylistConflictRetries = new Counter({
      name: 'mediator_keylist_update_conflict_retries_total',
      help: 'Keylist updates re-read and re-applied because another worker updated the same mediation record',
      registers: [registry],
    })
    this.keylistContested = new Counter({
      name: 'mediator_keylist_keys_contested_total',
      help: 'Keys two wallets added at the same instant, given up after the write so that no key has two holders',
      registers: [registry],
    })
    this.unroutableForwards = new Counter({
      name: 'mediator_forwards_unroutable_total',
      help: 'Forward messages dead-lettered because no granted mediation holds their recipient key, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    })
  }
}
