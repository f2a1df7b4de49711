import { ConfigError } from '@mediator/config'
import { loadRelayConfig } from './config.js'
import type { RelayConfig } from './config.js'
import { buildRelay } from './relay.js'

let config: RelayConfig
try {
  config = loadRelayConfig()
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  }
  throw err
}

const relay = buildRelay(config)
await relay.start()

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    relay.logger.warn({ signal }, 'second signal, exiting now')
    process.exit(1)
  }
  stopping = true
  relay.logger.info({ signal }, 'shutting down')
  // The drain is bounded by DRAIN_TIMEOUT_MS; this guard only catches a hang elsewhere.
  setTimeout(() => process.exit(1), config.drainTimeoutMs + 5_000).unref()
  try {
    await relay.drain()
    await relay.close()
  } finally {
    relay.logger.flush()
    process.exit(0)
  }
}

process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
