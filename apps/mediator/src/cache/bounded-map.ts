/**
 * A Map that holds at most `maxEntries`, dropping the oldest insertion first. For per-process caches
 * of values derived from public keys, where an evicted entry only costs its recomputation.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>()

  public constructor(private readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer')
  }

  public get size(): number {
    return this.entries.size
  }

  public get(key: K): V | undefined {
    return this.entries.get(key)
  }

  public set(key: K, value: V): void {
    // Insertion order is age: dropping the first key is dropping the oldest.
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as K)
    }
    this.entries.set(key, value)
  }
}
