import type { Redis, Result } from 'ioredis'

/**
 * One notification per wallet per window, whichever worker queued the message:
 *
 * - the first message of a quiet wallet claims the window (`SET NX PX`) and its worker sends;
 * - a message inside a claimed window sends nothing, but marks the wallet "due" at the window's end
 *   (a ZSET scored by that time);
 * - when the window has ended, one worker's sweep takes the due wallet (ZREM in the same script, so
 *   only one worker gets it), claims the next window and sends one trailing notification.
 *
 * So a burst gives one notification, a burst that straddles the end of a window gives two (one per
 * window), and the last message of any burst is always followed by a notification within a window:
 * nothing waits unannounced because it came right after a notification. A wallet that claimed a new
 * window by itself before the sweep ran needs no trailing one (that send came after every coalesced
 * message), so the sweep drops it.
 */
export class PushCoalescer {
  private readonly claimKeyPrefix: string
  private readonly dueKey: string

  public constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly windowMs: number,
  ) {
    this.claimKeyPrefix = `${prefix}:push:claim:`
    this.dueKey = `${prefix}:push:due`
    if (!redis.pushClaim) {
      redis.defineCommand('pushClaim', { numberOfKeys: 2, lua: CLAIM_SCRIPT })
      redis.defineCommand('pushTakeDue', { numberOfKeys: 1, lua: TAKE_DUE_SCRIPT })
    }
  }

  /** 'send' when this message opened a window (send now), 'coalesced' when one is open already. */
  public async claim(connectionId: string): Promise<'send' | 'coalesced'> {
    const claimed = await this.redis.pushClaim(this.claimKey(connectionId), this.dueKey, connectionId, this.windowMs)
    return claimed === 1 ? 'send' : 'coalesced'
  }

  /** Wallets whose window ended with messages it coalesced; each has its next window claimed already. */
  public async takeDue(limit = 100): Promise<string[]> {
    return this.redis.pushTakeDue(this.dueKey, this.claimKeyPrefix, this.windowMs, limit)
  }

  /** Forgets a wallet's window and due mark (its device info was removed). */
  public async forget(connectionId: string): Promise<void> {
    await this.redis.multi().del(this.claimKey(connectionId)).zrem(this.dueKey, connectionId).exec()
  }

  private claimKey(connectionId: string): string {
    return this.claimKeyPrefix + connectionId
  }
}

// KEYS: claim, due. ARGV: connectionId, windowMs.
const CLAIM_SCRIPT = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], 'NX', string.format('%.0f', now + ttl), ARGV[1])
return 0
`

// KEYS: due. ARGV: claim key prefix, windowMs, limit (claim keys are the prefix and the connection id, as in claim()).
const TAKE_DUE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local taken = {}
for _, cid in ipairs(due) do
  if redis.call('SET', ARGV[1] .. cid, '1', 'NX', 'PX', ARGV[2]) then
    redis.call('ZREM', KEYS[1], cid)
    taken[#taken + 1] = cid
  else
    -- Still the window the mark was made in (a new window removes the mark when it opens): its
    -- end was rounded down to the millisecond. Due again when it really ends, not dropped.
    local ttl = redis.call('PTTL', ARGV[1] .. cid)
    if ttl < 1 then ttl = 1 end
    redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now + ttl), cid)
  end
end
return taken
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    pushClaim(claimKey: string, dueKey: string, connectionId: string, windowMs: number): Result<number, Context>
    pushTakeDue(dueKey: string, claimKeyPrefix: string, windowMs: number, limit: number): Result<string[], Context>
  }
}
