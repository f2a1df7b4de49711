export interface TaggedExpiringCacheOptions {
  /** A backstop for a change signal that never arrived (another worker's write, a lost pub/sub message). */
  ttlMs: number
  maxEntries: number
  now?: () => number
}

interface Entry<V> {
  value: V
  tags: readonly string[]
  expiresAt: number
}

/**
 * The per-process caches of the fast paths (recipients of forwards, our keys, connections by keys,
 * our created DIDs) all work the same way, and this is that way:
 * - bounded, oldest entry evicted first (Map insertion order is age);
 * - every entry expires after `ttlMs`;
 * - entries carry tags (the connection or DID they were derived from) and `invalidateTag` drops every
 *   entry with that tag, when Credo announces a change of that record here or another worker does
 *   through Redis;
 * - a lookup that started before an invalidation is returned to its caller but not stored, since it
 *   may have read what the invalidation was about (`generation`).
 */
export class TaggedExpiringCache<V> {
  private readonly entries = new Map<string, Entry<V>>()
  private readonly keysByTag = new Map<string, Set<string>>()
  private readonly now: () => number
  private gen = 0

  public constructor(private readonly options: TaggedExpiringCacheOptions) {
    this.now = options.now ?? Date.now
  }

  public get size(): number {
    return this.entries.size
  }

  /** Changes with every invalidation; pass the value read before a lookup to `set`. */
  public get generation(): number {
    return this.gen
  }

  public get(key: string): V | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt > this.now()) return entry.value
    this.drop(key, entry)
    return undefined
  }

  /** Stores a lookup's result, unless something was invalidated since the lookup began. */
  public set(key: string, value: V, tags: readonly string[], generation: number): void {
    if (generation !== this.gen) return
    const existing = this.entries.get(key)
    if (existing) this.drop(key, existing)
    if (this.entries.size >= this.options.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry<V>]
      this.drop(oldestKey, oldest)
    }
    this.entries.set(key, { value, tags, expiresAt: this.now() + this.options.ttlMs })
    for (const tag of tags) {
      let keys = this.keysByTag.get(tag)
      if (!keys) this.keysByTag.set(tag, (keys = new Set()))
      keys.add(key)
    }
  }

  /** The cached value, or the result of `load` (stored when found and not raced by an invalidation). */
  public async getOrLoad(
    key: string,
    load: () => Promise<V | undefined>,
    tagsOf: (value: V) => readonly string[],
  ): Promise<V | undefined> {
    const hit = this.get(key)
    if (hit !== undefined) return hit
    const generation = this.gen
    const found = await load()
    if (found !== undefined) this.set(key, found, tagsOf(found), generation)
    return found
  }

  public invalidateTag(tag: string): void {
    this.gen++
    for (const key of this.keysByTag.get(tag) ?? []) {
      const entry = this.entries.get(key)
      if (entry) this.drop(key, entry)
    }
    this.keysByTag.delete(tag)
  }

  public clear(): void {
    this.gen++
    this.entries.clear()
    this.keysByTag.clear()
  }

  private drop(key: string, entry: Entry<V>): void {
    this.entries.delete(key)
    for (const tag of entry.tags) {
      const keys = this.keysByTag.get(tag)
      keys?.delete(key)
      if (keys?.size === 0) this.keysByTag.delete(tag)
    }
  }
}
