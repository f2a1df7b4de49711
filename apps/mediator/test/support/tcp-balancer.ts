import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net'

/**
 * A plain TCP round-robin balancer on loopback, standing in for the cluster's load balancer: no
 * stickiness, each new connection (HTTP request or WebSocket) may land on another relay.
 */
export class TcpBalancer {
  private server?: Server
  private next = 0
  private readonly sockets = new Set<Socket>()

  public constructor(private targets: number[]) {}

  public get port(): number {
    return (this.server?.address() as AddressInfo).port
  }

  /** Changes where new connections go (existing ones stay where they are). */
  public setTargets(targets: number[]): void {
    this.targets = targets
  }

  /** Drops every open connection, as a load balancer losing a node would. */
  public dropAll(): void {
    for (const s of this.sockets) s.destroy()
  }

  public async listen(port = 0): Promise<void> {
    this.server = createServer((client) => {
      const target = this.targets[this.next++ % Math.max(this.targets.length, 1)]
      if (target === undefined) return client.destroy()
      const upstream = connect(target, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve))
  }

  public async close(): Promise<void> {
    this.dropAll()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
