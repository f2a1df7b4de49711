import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Why an inbound message or connection was refused; the label values of `rejected`. */
export type RejectReason =
  | 'not_envelope'
  | 'bad_content_type'
  | 'too_large'
  | 'invalid_utf8'
  | 'rate_limited'
  | 'redis_unavailable'
  | 'draining'
  | 'full'
  | 'busy'
  | 'bad_upgrade'
  | 'protocol_error'

/** The relay's Prometheus metrics, in a registry of its own (several relays may share a process in tests). */
export class RelayMetrics {
  public readonly registry = new Registry()
  public readonly openSockets: Gauge
  public readonly heldRequests: Gauge
  public readonly accepted: Counter<'transport'>
  public readonly rejected: Counter<'transport' | 'reason'>
  public readonly sendResults: Counter<'op' | 'status'>
  public readonly openChannels: Gauge
  public readonly jobAddSeconds: Histogram<'kind'>
  public readonly heartbeatTerminations: Counter
  public readonly registryHeartbeat: Gauge
  public readonly registryLapses: Counter
  public readonly pendingAdds: Gauge

  public constructor(relayId: string) {
    this.registry.setDefaultLabels({ relay_id: relayId })
    const registers = [this.registry]
    this.openSockets = new Gauge({ name: 'relay_open_sockets', help: 'WebSockets currently open', registers })
    this.heldRequests = new Gauge({
      name: 'relay_held_http_requests',
      help: 'HTTP requests held open for a return-route reply',
      registers,
    })
    this.accepted = new Counter({
      name: 'relay_messages_accepted_total',
      help: 'Inbound messages stored as jobs',
      labelNames: ['transport'],
      registers,
    })
    this.rejected = new Counter({
      name: 'relay_messages_rejected_total',
      help: 'Inbound messages or connections refused, by reason',
      labelNames: ['transport', 'reason'],
      registers,
    })
    this.sendResults = new Counter({
      name: 'relay_internal_results_total',
      help: 'Internal API send/disconnect calls by HTTP status',
      labelNames: ['op', 'status'],
      registers,
    })
    this.openChannels = new Gauge({
      name: 'relay_internal_channels',
      help: 'Workers\' channels (internal WebSockets) currently open',
      registers,
    })
    this.jobAddSeconds = new Histogram({
      name: 'relay_job_add_seconds',
      help: 'Time to store an inbound job in Redis',
      labelNames: ['kind'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    })
    this.heartbeatTerminations = new Counter({
      name: 'relay_heartbeat_terminations_total',
      help: 'Sockets terminated because they did not answer a ping',
      registers,
    })
    this.registryHeartbeat = new Gauge({
      name: 'relay_registry_heartbeat_timestamp_seconds',
      help: 'When the relay last refreshed its registration in Redis (workers drop a relay whose registration is older than 3 intervals)',
      registers,
    })
    this.registryLapses = new Counter({
      name: 'relay_registry_lapses_total',
      help: 'Heartbeats that found the registration expired (the relay looked dead): its sockets were closed so wallets register again',
      registers,
    })
    this.pendingAdds = new Gauge({
      name: 'relay_ws_pending_adds',
      help: 'WebSockets waiting on a job add (upgrades are refused with 503 busy at MAX_PENDING_ADDS)',
      registers,
    })
    collectDefaultMetrics({ register: this.registry })
  }
}
