import type { AgentContext } from '@credo-ts/core'
import type { Logger } from '@mediator/config'
import {
  withRetries,
  type PushAttemptResult,
  type PushCoalescer,
  type PushSender,
  type PushService,
  type RetryPolicy,
} from '@mediator/push-notifications'
import type { QueuedWhileOfflineListener } from '../pickup/delivering-queue.js'
import { PeriodicTask } from '../pickup/periodic-task.js'
import type { PushDeviceRecord } from './push-device-record.js'
import type { PushDeviceStore } from './push-device-store.js'
import type { PushMetrics } from './push-metrics.js'

export interface PushNotifierOptions {
  coalescer: PushCoalescer
  store: PushDeviceStore
  /** The configured services; a device of a service not configured here is not notified. */
  senders: Partial<Record<PushService, PushSender>>
  retry: RetryPolicy
  notification: { title: string; body: string }
  /** Whether the wallet is still offline with messages waiting (checked before a trailing notification). */
  stillWaiting: (agentContext: AgentContext, connectionId: string) => Promise<boolean>
  metrics: PushMetrics
  logger: Logger
}

/**
 * Sends a wallet's device a notification when a message is queued while it has no live session, at
 * most one per coalescing window (PushCoalescer, shared by all workers through Redis). It runs beside
 * the forward, never inside it: the message is already queued when it is told, the job does not wait
 * for it, and no failure here reaches the job. A token the service calls invalid is removed with its
 * device info.
 */
export class PushNotifier implements QueuedWhileOfflineListener {
  private readonly inFlight = new Set<Promise<void>>()
  private readonly sweep: PeriodicTask
  private closed = false
  private agentContext?: AgentContext

  public constructor(private readonly options: PushNotifierOptions) {
    this.sweep = new PeriodicTask('push trailing sweep', () => this.sendTrailing(), options.logger)
  }

  public queuedWhileOffline(agentContext: AgentContext, connectionId: string): void {
    if (this.closed) return
    this.track(this.notify(agentContext, connectionId))
  }

  /** Looks for wallets whose window ended with coalesced messages, every `intervalMs`. */
  public start(agentContext: AgentContext, intervalMs: number): void {
    this.agentContext = agentContext
    this.sweep.start(intervalMs)
  }

  /**
   * Stops the sweep and waits up to `graceMs` for notifications being sent. One still retrying then
   * is abandoned: a notification is a hint, the message itself stays queued.
   */
  public async close(graceMs = 5_000): Promise<void> {
    this.closed = true
    this.sweep.stop()
    const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())
    await Promise.race([Promise.allSettled([...this.inFlight]), grace])
    if (this.inFlight.size > 0) this.options.logger.warn({ abandoned: this.inFlight.size }, 'push notifications abandoned at shutdown')
    for (const sender of Object.values(this.options.senders)) await sender?.close?.()
  }

  /** One sweep now (tests). */
  public async sweepOnce(): Promise<void> {
    await this.sweep.runOnce()
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'push notification failed')
    })
    this.inFlight.add(tracked)
    void tracked.finally(() => this.inFlight.delete(tracked))
  }

  private async notify(agentContext: AgentContext, connectionId: string): Promise<void> {
    const { coalescer, metrics } = this.options
    if ((await coalescer.claim(connectionId)) === 'coalesced') {
      metrics.coalesced.inc()
      return
    }
    await this.sendToDevices(agentContext, connectionId, 'first')
  }

  private async sendTrailing(): Promise<void> {
    const agentContext = this.agentContext
    if (!agentContext) return
    const due = await this.options.coalescer.takeDue()
    for (const connectionId of due) {
      if (this.closed) return
      this.track(
        (async () => {
          if (await this.options.stillWaiting(agentContext, connectionId)) await this.sendToDevices(agentContext, connectionId, 'trailing')
        })(),
      )
    }
  }

  private async sendToDevices(agentContext: AgentContext, connectionId: string, kind: 'first' | 'trailing'): Promise<void> {
    const devices = await this.options.store.list(agentContext, connectionId)
    await Promise.all(devices.map((device) => this.sendToDevice(agentContext, device, kind)))
  }

  private async sendToDevice(agentContext: AgentContext, device: PushDeviceRecord, kind: 'first' | 'trailing'): Promise<void> {
    const { metrics, retry, notification } = this.options
    const sender = this.options.senders[device.service]
    if (!sender) return
    const log = this.options.logger.child({ connectionId: device.connectionId, service: device.service, kind })
    const { result, attempts } = await withRetries(async (attempt): Promise<PushAttemptResult> => {
      if (attempt > 1) metrics.retries.inc({ service: device.service })
      try {
        return await sender.send(device.token, { ...notification, collapseKey: device.connectionId })
      } catch (error) {
        return { outcome: 'failed', reason: `sender threw: ${(error as Error).message}` }
      }
    }, retry)
    switch (result.outcome) {
      case 'sent':
        metrics.sent.inc({ service: device.service, kind })
        log.info({ attempts, pushId: result.id }, 'push notification sent')
        return
      case 'invalid-token': {
        const removed = await this.options.store.remove(agentContext, device.connectionId, device.service, device.token)
        if (removed) metrics.tokensCleared.inc({ service: device.service })
        log.info({ status: result.status, reason: result.reason, removed }, 'push service called the device token invalid; device info removed')
        return
      }
      default:
        metrics.failed.inc({ service: device.service, reason: result.outcome })
        log.warn({ attempts, status: result.status, reason: result.reason }, 'push notification given up')
    }
  }
}
