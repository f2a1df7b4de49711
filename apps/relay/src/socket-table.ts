/**
 * The relay's sockets by id, held in a fixed number of maps (slices) chosen from the id itself, so
 * that the heartbeat visits one slice without passing over the others, and no socket carries its
 * slice in a field. Ids are random UUIDs: their first 32 bits spread sockets evenly over the slices.
 */
export class SocketTable<S> {
  private readonly slices: Array<Map<string, S>>
  private count = 0

  public constructor(sliceCount: number) {
    this.slices = Array.from({ length: sliceCount }, () => new Map<string, S>())
  }

  public get size(): number {
    return this.count
  }

  public has(id: string): boolean {
    return this.sliceFor(id).has(id)
  }

  public get(id: string): S | undefined {
    return this.sliceFor(id).get(id)
  }

  public set(id: string, socket: S): void {
    const slice = this.sliceFor(id)
    if (!slice.has(id)) this.count++
    slice.set(id, socket)
  }

  public delete(id: string): boolean {
    const deleted = this.sliceFor(id).delete(id)
    if (deleted) this.count--
    return deleted
  }

  /** Every socket, slice after slice. */
  public *values(): IterableIterator<S> {
    for (const slice of this.slices) yield* slice.values()
  }

  /** The sockets of one slice (0 .. sliceCount - 1). */
  public inSlice(slice: number): IterableIterator<S> {
    const map = this.slices[slice]
    if (!map) throw new RangeError(`no slice ${slice} of ${this.slices.length}`)
    return map.values()
  }

  private sliceFor(id: string): Map<string, S> {
    const bits = Number.parseInt(id.slice(0, 8), 16)
    return this.slices[Number.isNaN(bits) ? 0 : bits % this.slices.length] as Map<string, S>
  }
}
