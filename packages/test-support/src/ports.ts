import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

// Ports are drawn below the kernel's ephemeral range. A port the OS hands out for `listen(0)` comes
// from that range, and so does the local port of every outgoing connection: between our check and
// the child process binding it, any client socket on the machine could take it (EADDRINUSE in a
// child that starts a second later). Below the range only another listener can collide.
const FALLBACK_EPHEMERAL_LOW = 32768
const LOWEST_PORT = 10000

function ephemeralRangeLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)
    const parsed = Number(low)
    return Number.isInteger(parsed) && parsed > LOWEST_PORT + 1000 ? parsed : FALLBACK_EPHEMERAL_LOW
  } catch {
    return FALLBACK_EPHEMERAL_LOW
  }
}

const highestPort = ephemeralRangeLow() - 1
// A port handed out once is not handed out again by this process, even after its user closed it.
const handedOut = new Set<number>()

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A loopback port that was free a moment ago, for a process that needs to know its port before it
 * starts (an agent whose endpoint must survive a restart, a child process). Random, so parallel test
 * processes rarely pick the same one; callers that start a child should still retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (highestPort - LOWEST_PORT + 1))
    if (handedOut.has(port)) continue
    if (await canListen(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free loopback port found between ${LOWEST_PORT} and ${highestPort}`)
}
