import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { Redis } from 'ioredis'
import type { RedisKeys } from '@mediator/contracts'
import { RelayRegistry } from '@mediator/redis'
import { RelayChannelServer } from '@mediator/relay-channel'
import { freePort } from '@mediator/test-support'

/**
 * Stands in for a relay's internal API (the contract in @mediator/contracts, reached over the worker
 * channel of @mediator/relay-channel): records what workers write to each socket and answers with the
 * status set for it (200 written by default). Announced in Redis like a relay, so the worker's real
 * RelayClient finds it.
 */
export class RecordingRelay {
  public readonly writes: Array<{ socketId: string; body: string }> = []
  public readonly disconnects: string[] = []
  public readonly statusFor = new Map<string, number>()
  /**
   * Sockets whose writes happen and are never answered: the relay drops every worker channel while it
   * handles them, as a relay restarting or a network cut would.
   */
  public readonly unansweredFor = new Set<string>()

  private readonly server: Server = createServer((_req, res) => res.writeHead(404).end())
  private channels = this.channelServer()

  private channelServer(): RelayChannelServer {
    return new RelayChannelServer({
      operations: {
        send: (socketId, body) => {
          this.writes.push({ socketId, body: body.toString('utf8') })
          if (this.unansweredFor.has(socketId)) this.dropChannels()
          return this.statusFor.get(socketId) ?? 200
        },
        disconnect: (socketId) => {
          this.disconnects.push(socketId)
          return this.statusFor.get(socketId) ?? 200
        },
      },
      authorize: () => true,
      maxSendBytes: 4 * 1024 * 1024,
    })
  }

  private dropChannels(): void {
    this.channels.close()
    this.channels = this.channelServer()
  }

  private constructor(public readonly relayId: string) {
    this.server.on('upgrade', (req, socket, head) => this.channels.handleUpgrade(req, socket, head))
  }

  public static async start(redis: Redis, keys: RedisKeys): Promise<RecordingRelay> {
    const port = await freePort()
    const relay = new RecordingRelay(`relay-${randomUUID()}`)
    await new Promise<void>((resolve) => relay.server.listen(port, '127.0.0.1', resolve))
    const relayId = relay.relayId
    await new RelayRegistry(redis, keys).announce({
      relayId,
      internalUrl: `http://127.0.0.1:${port}`,
      startedAt: Date.now(),
      heartbeatIntervalMs: 60_000,
    })
    return relay
  }

  public writesTo(socketId: string): string[] {
    return this.writes.filter((w) => w.socketId === socketId).map((w) => w.body)
  }

  public close(): Promise<void> {
    this.channels.close()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}
