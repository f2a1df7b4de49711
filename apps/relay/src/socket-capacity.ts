import { readFileSync } from 'node:fs'

/**
 * Open files kept free for what is not a wallet's WebSocket: held HTTP requests, Redis connections,
 * worker channels, balancer health checks, log files.
 */
export const NON_SOCKET_FILES = 1_000

/**
 * The WebSockets a relay can hold without running out of open files: the process's soft limit
 * (`ulimit -n`, from /proc/self/limits) less NON_SOCKET_FILES, or undefined where it cannot be read or
 * is unlimited. A relay past its limit fails everything that needs a file (accepting, Redis reconnects,
 * worker channels) for the sockets it already holds; refusing the next wallet instead sends it, through
 * the balancer, to another relay.
 */
export function defaultMaxSockets(limits: string | undefined = readLimits()): number | undefined {
  const line = limits?.split('\n').find((l) => l.startsWith('Max open files'))
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
  if (!soft || soft === 'unlimited') return undefined
  const files = Number(soft)
  if (!Number.isSafeInteger(files) || files <= 0) return undefined
  return Math.max(1, files - NON_SOCKET_FILES)
}

function readLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8')
  } catch {
    return undefined
  }
}
