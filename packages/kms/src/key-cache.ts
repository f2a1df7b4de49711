import { wipeKeyMaterial, type KeyMaterial } from './key-material.js'

export interface KeyCacheOptions {
  /** Most keys held at once; the least recently used goes first. */
  readonly maxEntries: number
  /**
   * How long a key may be served without going back to Postgres. Bounds how long a worker keeps
   * using a key that another worker deleted.
   */
  readonly ttlMs: number
}

interface Entry {
  readonly key: KeyMaterial
  readonly expiresAt: number
}

/**
 * Bounded LRU of derived key pairs keyed by context + key id. A Map keeps insertion order, so
 * re-inserting on hit makes the first entry the least recently used.
 *
 * Evicted or deleted entries are dropped, not zeroed: an operation that fetched the key may not
 * have resumed yet (it sits behind an await), and zeroing under it would produce output made with
 * an all-zero key instead of an error. Only `clear()` (on close, when the KMS refuses further
 * work) zeroes.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>()

  public constructor(private readonly options: KeyCacheOptions) {}

  public static cacheKey(contextCorrelationId: string, keyId: string): string {
    return `${contextCorrelationId}\u0000${keyId}`
  }

  public get(cacheKey: string, now = Date.now()): KeyMaterial | undefined {
    const entry = this.entries.get(cacheKey)
    if (!entry) return undefined
    this.entries.delete(cacheKey)
    if (entry.expiresAt <= now) return undefined
    this.entries.set(cacheKey, entry)
    return entry.key
  }

  public set(cacheKey: string, key: KeyMaterial, now = Date.now()): void {
    if (this.options.maxEntries <= 0) return
    this.entries.delete(cacheKey)
    this.entries.set(cacheKey, { key, expiresAt: now + this.options.ttlMs })
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
  }

  public delete(cacheKey: string): void {
    this.entries.delete(cacheKey)
  }

  public clear(): void {
    for (const entry of this.entries.values()) wipeKeyMaterial(entry.key)
    this.entries.clear()
  }

  public get size(): number {
    return this.entries.size
  }
}
