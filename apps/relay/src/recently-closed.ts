/**
 * Ids of sockets (and held HTTP requests) that closed recently, so the internal API can answer 410
 * "gone" rather than 404 "never existed". Bounded in count and age: a Map keeps insertion order, so
 * the oldest entries are at the front and pruning stops at the first young one.
 */
export class RecentlyClosed {
  private readonly closedAt = new Map<string, number>()

  public constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  public add(id: string, now = Date.now()): void {
    if (this.maxEntries === 0) return
    this.closedAt.delete(id)
    this.closedAt.set(id, now)
    if (this.closedAt.size > this.maxEntries) {
      const oldest = this.closedAt.keys().next()
      if (!oldest.done) this.closedAt.delete(oldest.value)
    }
  }

  public has(id: string, now = Date.now()): boolean {
    const at = this.closedAt.get(id)
    return at !== undefined && now - at <= this.ttlMs
  }

  public prune(now = Date.now()): void {
    for (const [id, at] of this.closedAt) {
      if (now - at <= this.ttlMs) break
      this.closedAt.delete(id)
    }
  }

  public get size(): number {
    return this.closedAt.size
  }
}
