import { Agent as HttpAgent, request } from 'node:http'
import type { PackedForward } from '../support/forward-packing.js'
import type { DeliveryLedger } from './load/delivery-ledger.js'

const RETRY_FOR_MS = 60_000

/**
 * Another agent sending forwards through the balancers, open loop at a fixed rate, as a careful
 * sender does: a forward the mediator did not acknowledge (2xx) is sent again until it is, for up to
 * a minute (a relay killed mid-request, a 503 while Redis is down).
 */
export class ForwardSender {
  private readonly agents: HttpAgent[]
  public httpErrors = 0
  public retries = 0
  private inFlight = 0

  public constructor(
    private readonly urls: readonly string[],
    private readonly ledger: DeliveryLedger,
  ) {
    this.agents = urls.map(() => new HttpAgent({ keepAlive: true, maxSockets: 256 }))
  }

  /** Sends `forwards` at `rate` per second; resolves when the last was sent (not acknowledged). */
  public async send(forwards: readonly PackedForward[], rate: number, shouldStop: () => boolean = () => false): Promise<void> {
    const start = performance.now()
    let next = 0
    await new Promise<void>((done) => {
      const tick = () => {
        const due = Math.min(forwards.length, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
        for (; next < due; next++) {
          const forward = forwards[next] as PackedForward
          this.ledger.markSent(forward.tag, performance.timeOrigin + performance.now())
          this.post(forward, next, Date.now() + RETRY_FOR_MS)
        }
        if (next >= forwards.length || shouldStop()) done()
        else setTimeout(tick, 2)
      }
      tick()
    })
  }

  /** Waits until no POST is outstanding (each is acknowledged or given up). */
  public async settle(timeoutMs = RETRY_FOR_MS + 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  }

  public close(): void {
    for (const agent of this.agents) agent.destroy()
  }

  private post(forward: PackedForward, n: number, giveUpAt: number): void {
    const i = n % this.urls.length
    this.inFlight++
    const retry = () => {
      this.httpErrors++
      this.inFlight--
      if (Date.now() > giveUpAt) return
      this.retries++
      // Another balancer on the next try, as a sender with several addresses for the mediator would.
      setTimeout(() => this.post(forward, n + 1, giveUpAt), 250)
    }
    const req = request(
      this.urls[i] as string,
      {
        method: 'POST',
        agent: this.agents[i],
        headers: { 'content-type': 'application/didcomm-envelope-enc', 'content-length': Buffer.byteLength(forward.body) },
        timeout: 15_000,
      },
      (res) => {
        res.resume()
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) {
          this.ledger.markAcked(forward.tag)
          this.inFlight--
        } else retry()
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', retry)
    req.end(forward.body)
  }
}
