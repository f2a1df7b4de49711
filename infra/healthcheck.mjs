// The image's HEALTHCHECK: GET /healthz of whichever role this container runs (PID 1's script),
// a relay on its internal port, a worker on its ops port. Exit 0 healthy, 1 not.
/* global fetch, AbortSignal */
import { readFileSync } from 'node:fs'
import process from 'node:process'

const cmdline = readFileSync('/proc/1/cmdline', 'utf8').split('\0')
const relay = cmdline.some((arg) => arg.includes('apps/relay/'))
const port = relay ? (process.env.INTERNAL_PORT ?? '4000') : (process.env.OPS_PORT ?? '4100')

try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2500) })
  process.exit(res.ok ? 0 : 1)
} catch {
  process.exit(1)
}
