import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Every metric a worker exports, on its own registry (several workers may share a process in tests). */
export class MediatorMetrics {
  public readonly registry = new Registry()

  public readonly jobs = new Counter({
    name: 'mediator_jobs_total',
    help: 'Inbound jobs finished, by kind and outcome (ok, retry, dead_letter)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  })

  public readonly jobDuration = new Histogram({
    name: 'mediator_job_duration_seconds',
    help: 'Time to process one inbound job',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })

  public readonly forwards = new Counter({
    name: 'mediator_forwards_total',
    help: 'Forward messages queued for a wallet, by path (fast or credo)',
    labelNames: ['path'] as const,
    registers: [this.registry],
  })

  public readonly messagesQueued = new Counter({
    name: 'mediator_messages_queued_total',
    help: 'Messages added to a wallet pickup queue (forwards and messages for offline wallets)',
    registers: [this.registry],
  })

  public readonly deadLetters = new Counter({
    name: 'mediator_dead_letters_total',
    help: 'Jobs moved to the dead letters (failed set) after their last attempt or as poison',
    registers: [this.registry],
  })

  public readonly retries = new Counter({
    name: 'mediator_job_retries_total',
    help: 'Job attempts that failed with a transient error and will be retried',
    registers: [this.registry],
  })

  public readonly liveDeliveries = new Counter({
    name: 'mediator_live_deliveries_total',
    help: 'Live-mode deliveries to a relay, by outcome (written, gone, failed, empty)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })

  public readonly deliveryLatency = new Histogram({
    name: 'mediator_delivery_latency_seconds',
    help: 'From the relay receiving a forward to its live delivery being written to the wallet socket',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })

  public readonly expiredMessages = new Counter({
    name: 'mediator_pickup_expired_messages_total',
    help: 'Queued messages removed by retention before the wallet picked them up',
    registers: [this.registry],
  })

  public readonly leasesRunOut = new Counter({
    name: 'mediator_pickup_leases_run_out_total',
    help: 'Delivered messages that were not confirmed before their lease ran out, made available again',
    registers: [this.registry],
  })

  public readonly queueFull = new Counter({
    name: 'mediator_pickup_queue_full_total',
    help: 'Forwards refused because the recipient queue was at its cap',
    registers: [this.registry],
  })

  public readonly orderHeld = new Counter({
    name: 'mediator_order_held_total',
    help: 'Takes that held a wallet\'s messages back because an earlier-acknowledged message was still in process',
    registers: [this.registry],
  })

  public readonly orderHoldExpired = new Counter({
    name: 'mediator_order_hold_expired_total',
    help: 'Messages in process that held later deliveries back for longer than ORDER_HOLD_MS and stopped holding them',
    registers: [this.registry],
  })

  public readonly orderOpen = new Gauge({
    name: 'mediator_order_open',
    help: 'Acknowledged messages in process that later deliveries wait for, cluster-wide (read at scrape time)',
    registers: [this.registry],
  })

  public readonly inboundQueueDepth = new Gauge({
    name: 'mediator_inbound_queue_depth',
    help: 'Inbound jobs by state (waiting, active, delayed, failed)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  })

  public readonly inboundOldestWaiting = new Gauge({
    name: 'mediator_inbound_oldest_waiting_seconds',
    help: 'How long the oldest waiting inbound job has waited, cluster-wide (read at scrape time)',
    registers: [this.registry],
  })

  public readonly liveSessions = new Gauge({
    name: 'mediator_live_sessions',
    help: 'Wallet sockets with a live pickup session, cluster-wide (read at scrape time)',
    registers: [this.registry],
  })

  public constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mediator_' })
  }
}
