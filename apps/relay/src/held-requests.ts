import type { ServerResponse } from 'node:http'

/** How a held HTTP request ends: with the mediator's reply, with "no reply", or by timing out. */
export type HeldOutcome =
  | { kind: 'reply'; body: Buffer; contentType: string }
  | { kind: 'no-reply' }
  | { kind: 'timeout' }
  | { kind: 'shutdown' }

interface Held {
  resolve: (outcome: HeldOutcome) => void
  timer: NodeJS.Timeout
}

/**
 * HTTP POSTs held open until a mediator answers them (return route). A held request is short-lived,
 * so one timer each is fine here, unlike WebSockets.
 */
export class HeldRequests {
  private readonly held = new Map<string, Held>()

  public constructor(private readonly onEnd: (id: string) => void) {}

  /**
   * Registers a request before its job is stored (a fast worker may answer before the add resolves).
   * If the client goes away first, the entry is dropped so a later `answer` reports it gone.
   */
  public hold(id: string, timeoutMs: number, response: ServerResponse): Promise<HeldOutcome> {
    return new Promise<HeldOutcome>((resolve) => {
      const timer = setTimeout(() => this.finish(id, { kind: 'timeout' }), timeoutMs)
      this.held.set(id, { resolve, timer })
      response.once('close', () => {
        if (!response.writableFinished) this.finish(id, { kind: 'shutdown' })
      })
    })
  }

  public has(id: string): boolean {
    return this.held.has(id)
  }

  /** Ends a held request; false if it is not (or no longer) held. */
  public answer(id: string, outcome: HeldOutcome): boolean {
    return this.finish(id, outcome)
  }

  /** Ends every held request, e.g. with "no reply" when the relay drains. */
  public answerAll(outcome: HeldOutcome): void {
    for (const id of [...this.held.keys()]) this.finish(id, outcome)
  }

  public get size(): number {
    return this.held.size
  }

  private finish(id: string, outcome: HeldOutcome): boolean {
    const h = this.held.get(id)
    if (!h) return false
    this.held.delete(id)
    clearTimeout(h.timer)
    h.resolve(outcome)
    this.onEnd(id)
    return true
  }
}
