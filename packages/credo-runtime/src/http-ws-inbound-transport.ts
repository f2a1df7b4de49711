import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { CredoError, type AgentContext } from '@credo-ts/core'
import {
  DidCommMessageReceiver,
  DidCommMimeType,
  DidCommTransportService,
  type DidCommEncryptedMessage,
  type DidCommInboundTransport,
  type DidCommTransportSession,
} from '@credo-ts/didcomm'
import { WebSocket, WebSocketServer, type RawData } from 'ws'

const acceptedContentTypes = new Set<string>([DidCommMimeType.V0, DidCommMimeType.V1, 'application/json'])

export interface HttpWsInboundTransportOptions {
  /** Port to listen on; 0 picks a free one (read it back from `port` after start). */
  port: number
  host?: string
  /** Largest envelope accepted, in bytes. */
  maxMessageBytes?: number
}

/**
 * A plain Credo inbound transport: HTTP POST and WebSocket on one port, processed in this process.
 * It is what a single-process Credo mediator or wallet uses (tests, the stock-Credo baseline); the
 * clustered deployment does not use it (relays hold the sockets, workers process jobs).
 */
export class HttpWsInboundTransport implements DidCommInboundTransport {
  private server?: Server
  private wss?: WebSocketServer
  private readonly maxMessageBytes: number

  public constructor(private readonly options: HttpWsInboundTransportOptions) {
    this.maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024
  }

  /** The port actually bound (useful with port 0). */
  public get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined
    if (!address) throw new CredoError('HttpWsInboundTransport is not started')
    return address.port
  }

  public async start(agentContext: AgentContext): Promise<void> {
    const receiver = agentContext.dependencyManager.resolve(DidCommMessageReceiver)
    const transportService = agentContext.dependencyManager.resolve(DidCommTransportService)
    const logger = agentContext.config.logger

    const receive = async (message: unknown, session: DidCommTransportSession) => {
      try {
        await receiver.receiveMessage(message, { session })
      } catch (error) {
        logger.error('Failed to process inbound message', { error })
      }
    }

    this.server = createServer((req, res) => {
      void this.handleHttp(req, res, receive, transportService)
    })
    this.wss = new WebSocketServer({ server: this.server, maxPayload: this.maxMessageBytes })
    this.wss.on('connection', (socket) => {
      const session = new WebSocketSession(randomUUID(), socket)
      socket.on('message', (data: RawData) => {
        const parsed = parseJson(data)
        if (parsed === undefined) {
          socket.close(1007, 'message is not JSON')
          return
        }
        void receive(parsed, session)
      })
      socket.on('close', () => transportService.removeSession(session))
    })

    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject)
      this.server?.listen(this.options.port, this.options.host ?? '127.0.0.1', () => resolve())
    })
  }

  public async stop(): Promise<void> {
    for (const client of this.wss?.clients ?? []) client.terminate()
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()))
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  private async handleHttp(
    req: IncomingMessage,
    res: ServerResponse,
    receive: (message: unknown, session: DidCommTransportSession) => Promise<void>,
    transportService: DidCommTransportService,
  ): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end()
      return
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? ''
    if (!acceptedContentTypes.has(contentType)) {
      res.writeHead(415).end()
      return
    }
    const body = await readBody(req, this.maxMessageBytes)
    if (body === 'too-large') {
      res.writeHead(413).end()
      return
    }
    const parsed = parseJson(body)
    if (parsed === undefined) {
      res.writeHead(400).end()
      return
    }
    const session = new HttpSession(randomUUID(), res)
    try {
      // Credo answers on the session (return route) while processing; once processing is over
      // nothing more will come for this request.
      await receive(parsed, session)
    } finally {
      transportService.removeSession(session)
      await session.close()
    }
  }
}

class HttpSession implements DidCommTransportSession {
  public readonly type = 'http'
  public keys?: DidCommTransportSession['keys']
  public inboundMessage?: DidCommTransportSession['inboundMessage']
  public connectionId?: string

  public constructor(
    public readonly id: string,
    private readonly res: ServerResponse,
  ) {}

  public async send(_agentContext: AgentContext, encryptedMessage: DidCommEncryptedMessage): Promise<void> {
    if (this.res.headersSent) throw new CredoError(`HTTP session ${this.id} has already been answered`)
    this.res.writeHead(200, { 'content-type': DidCommMimeType.V1 }).end(JSON.stringify(encryptedMessage))
  }

  public async close(): Promise<void> {
    if (!this.res.headersSent) this.res.writeHead(202).end()
  }
}

class WebSocketSession implements DidCommTransportSession {
  public readonly type = 'WebSocket'
  public keys?: DidCommTransportSession['keys']
  public inboundMessage?: DidCommTransportSession['inboundMessage']
  public connectionId?: string

  public constructor(
    public readonly id: string,
    private readonly socket: WebSocket,
  ) {}

  public async send(_agentContext: AgentContext, encryptedMessage: DidCommEncryptedMessage): Promise<void> {
    if (this.socket.readyState !== WebSocket.OPEN) throw new CredoError(`WebSocket session ${this.id} is closed`)
    await new Promise<void>((resolve, reject) =>
      this.socket.send(JSON.stringify(encryptedMessage), (error) => (error ? reject(error) : resolve())),
    )
  }

  public async close(): Promise<void> {
    // Credo calls close() after every message that did not ask for a return route. Closing a
    // wallet's socket for that would break pickup live mode, so the socket stays open; it ends
    // when the peer closes it or the transport stops.
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Parses a frame or body as strict UTF-8 JSON; undefined when it is not. */
function parseJson(data: RawData): unknown {
  try {
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
    return JSON.parse(utf8.decode(buffer)) as unknown
  } catch {
    return undefined
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) return 'too-large'
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}
