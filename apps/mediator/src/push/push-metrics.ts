import { Counter, type Registry } from 'prom-client'

/** Push-notification counters, on the worker's registry. */
export class PushMetrics {
  public readonly sent: Counter<'service' | 'kind'>
  public readonly coalesced: Counter
  public readonly failed: Counter<'service' | 'reason'>
  public readonly tokensCleared: Counter<'service'>
  public readonly retries: Counter<'service'>

  public constructor(registry: Registry) {
    this.sent = new Counter({
      name: 'mediator_push_notifications_sent_total',
      help: 'Notifications the push service accepted, by service (fcm, apns) and kind (first of a window, trailing)',
      labelNames: ['service', 'kind'],
      registers: [registry],
    })
    this.coalesced = new Counter({
      name: 'mediator_push_notifications_coalesced_total',
      help: 'Messages queued for an offline wallet that sent no notification because its window had one already',
      registers: [registry],
    })
    this.failed = new Counter({
      name: 'mediator_push_notifications_failed_total',
      help: 'Notifications given up, by service and reason (transient: retries used up; failed: refused; error: ours)',
      labelNames: ['service', 'reason'],
      registers: [registry],
    })
    this.tokensCleared = new Counter({
      name: 'mediator_push_tokens_cleared_total',
      help: 'Device tokens the push service called invalid, removed with their device info',
      labelNames: ['service'],
      registers: [registry],
    })
    this.retries = new Counter({
      name: 'mediator_push_retries_total',
      help: 'Notification attempts repeated after a transient failure (5xx, 429, network)',
      labelNames: ['service'],
      registers: [registry],
    })
  }
}
