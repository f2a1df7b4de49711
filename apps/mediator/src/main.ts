import { ConfigError, createLogger } from '@mediator/config'
import { resolvePushSettings } from '@mediator/push-notifications'
import { loadMediatorConfig } from './config.js'
import { buildMediatorWorker } from './worker.js'

/** Process entry point: configuration from the environment, start, and graceful stop on signals. */
async function main(): Promise<void> {
  let config
  try {
    config = loadMediatorConfig()
    // The combination of the push settings, and the credential files, are checked before start-up.
    resolvePushSettings(config)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`mediator: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  const logger = createLogger({ service: 'mediator', instance: config.WORKER_ID, level: config.LOG_LEVEL })
  const worker = await buildMediatorWorker(config, logger)
  await worker.start()

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping')
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting with jobs still active (they will be retried)')
      process.exit(1)
    }, config.SHUTDOWN_TIMEOUT_MS)
    deadline.unref()
    worker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((error: unknown) => {
  process.stderr.write(`mediator: failed to start: ${(error as Error)?.stack ?? String(error)}\n`)
  process.exit(1)
})
