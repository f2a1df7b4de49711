import { createServer, type AddressInfo } from 'node:net'

/**
 * A loopback port that was free a moment ago (the OS picked it), for a process that needs to know
 * its port before it starts (an agent whose endpoint must survive a restart, a child process).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}
