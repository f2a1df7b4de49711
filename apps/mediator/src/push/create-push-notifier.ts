import type { AgentContext } from '@credo-ts/core'
import type { Redis } from 'ioredis'
import type { Logger } from '@mediator/config'
import { ApnsClient, FcmClient, PushCoalescer, type PushSender, type PushService, type PushSettings } from '@mediator/push-notifications'
import type { PushDeviceStore } from './push-device-store.js'
import type { PushMetrics } from './push-metrics.js'
import { PushNotifier } from './push-notifier.js'

/** A notifier for the configured services, or undefined when none is (notifications off). */
export function createPushNotifier(options: {
  settings: PushSettings
  redis: Redis
  redisPrefix: string
  store: PushDeviceStore
  metrics: PushMetrics
  stillWaiting: (agentContext: AgentContext, connectionId: string) => Promise<boolean>
  logger: Logger
}): PushNotifier | undefined {
  const { settings } = options
  const senders: Partial<Record<PushService, PushSender>> = {}
  if (settings.fcm) senders.fcm = new FcmClient(settings.fcm, settings.requestTimeoutMs)
  if (settings.apns) senders.apns = new ApnsClient(settings.apns, settings.requestTimeoutMs)
  const log = options.logger.child({ component: 'push' })
  if (!senders.fcm && !senders.apns) {
    log.info('push notifications off: neither FCM nor APNs is configured (device info is still stored)')
    return undefined
  }
  log.info({ fcm: Boolean(senders.fcm), apns: Boolean(senders.apns), coalesceMs: settings.coalesceMs }, 'push notifications on')
  return new PushNotifier({
    coalescer: new PushCoalescer(options.redis, options.redisPrefix, settings.coalesceMs),
    store: options.store,
    senders,
    retry: settings.retry,
    notification: settings.notification,
    stillWaiting: options.stillWaiting,
    metrics: options.metrics,
    logger: log,
  })
}
