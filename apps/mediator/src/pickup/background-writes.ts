import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * Some of Credo's hooks are synchronous (saving a live pickup session, for one) but what we do there
 * talks to Redis. The write starts in the hook and is collected here, and the job that caused it waits
 * for it before it completes, so a job never reports success while its effects are still in the air.
 */
export class BackgroundWrites {
  private readonly scope = new AsyncLocalStorage<Promise<unknown>[]>()

  /** Runs `fn` with a fresh collection; awaits everything `track`ed inside it before returning. */
  public async run<T>(fn: () => Promise<T>): Promise<T> {
    const pending: Promise<unknown>[] = []
    const result = await this.scope.run(pending, fn)
    // Writes may start more writes while we wait; drain until nothing is left.
    while (pending.length > 0) await Promise.all(pending.splice(0))
    return result
  }

  /** Records a write started from a synchronous hook. Outside a scope, failures are only reported. */
  public track(write: Promise<unknown>, onUntrackedError: (error: unknown) => void): void {
    const pending = this.scope.getStore()
    if (pending) pending.push(write)
    else write.catch(onUntrackedError)
  }
}
