import type { ChainableCommander, Redis } from 'ioredis'

export type ScriptArg = string | number
export type ScriptCommand = (...keysAndArgs: ScriptArg[]) => Promise<unknown>

/**
 * The scripts build some key names from values stored in Redis, which ioredis's `keyPrefix` option
 * would not prefix; refuse such a client instead of silently writing keys in two places.
 */
export function assertNoClientKeyPrefix(redis: Redis): void {
  if (redis.options.keyPrefix) {
    throw new Error('Use a Redis client without keyPrefix; pass the deployment prefix as the prefix option')
  }
}

/** A command added with `defineCommand`, on a client or a pipeline. */
export function scriptCommand(target: Redis | ChainableCommander, name: string): ScriptCommand {
  // defineCommand adds the method at runtime; ioredis cannot type it.
  const method = (target as unknown as Record<string, ScriptCommand | undefined>)[name]
  if (!method) throw new Error(`Redis command ${name} is not defined on this client`)
  return method.bind(target)
}
