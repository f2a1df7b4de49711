import { WebSocket, type RawData } from 'ws'

/**
 * The order in which envelopes reached a wallet, as they came off the wire: WebSocket frames, and the
 * bodies of answers to its HTTP requests (a pickup over HTTP is answered in the response). Credo
 * processes what it receives concurrently, so the order its handlers run in says nothing sure about
 * the order the mediator sent it in; this is noted before Credo sees anything.
 */
export class WireOrder {
  private next = 0
  private readonly indexByCiphertext = new Map<string, number>()

  /** A WebSocket class for createCredoAgent that notes every frame before Credo's handler runs. */
  public webSocketClass(): typeof WebSocket {
    const note = (data: RawData) => this.note(data)
    class WireOrderedWebSocket extends WebSocket {
      public constructor(address: string | URL, options?: WebSocket.ClientOptions) {
        super(address, options)
        // Registered before Credo adds its listener, so it runs first for every frame.
        this.on('message', note)
      }
    }
    // Credo only ever calls `new WebSocketClass(endpoint)`; ws's other constructor overloads (a null
    // address for server-side sockets, protocols) are never used through it.
    return WireOrderedWebSocket as unknown as typeof WebSocket
  }

  /** A fetch for createCredoAgent that notes every answer's body before Credo reads it. */
  public fetch(base: typeof fetch = globalThis.fetch): typeof fetch {
    return async (input, init) => {
      const response = await base(input, init)
      const body = await response.clone().arrayBuffer()
      if (body.byteLength > 0) this.note(Buffer.from(body))
      return response
    }
  }

  /** Where the envelope with this ciphertext arrived among everything the wallet received. */
  public indexOf(ciphertext: string): number | undefined {
    return this.indexByCiphertext.get(ciphertext)
  }

  private note(data: RawData): void {
    const index = this.next++
    try {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8')
      const envelope = JSON.parse(text) as { ciphertext?: unknown }
      if (typeof envelope.ciphertext === 'string') this.indexByCiphertext.set(envelope.ciphertext, index)
    } catch {
      // Not a JSON envelope: nothing to order by.
    }
  }
}
