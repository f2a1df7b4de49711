/**
 * Lua behind InboundOrder, and the helpers the pickup queue's scripts share with it. Every script that
 * uses the helpers declares the four order keys (InboundOrderKeys.scriptKeys) as the locals K_SEQ,
 * K_OPEN, K_HEAD and K_DEFERRED, and a millisecond clock NOW, before them.
 *
 * Order keys are sequence x ORDER_SLOTS + position, up to 2^53: Lua's tostring() keeps only 14
 * digits, so they are always formatted with fmt().
 */

/** Positions per inbound message: a job's adds past the last slot share it (their ids break the tie). */
export const ORDER_SLOTS = 64

export const orderHelpers = `
local ORDER_SLOTS = ${ORDER_SLOTS}
-- ZSET connectionId -> when the live hold it waits behind runs out (ms). Derived from K_DEFERRED, as
-- the queue's per-recipient keys are derived: one Redis primary, not Redis Cluster.
local K_DEFERRED_LIVE = K_DEFERRED .. '-live'
local function fmt(n) return string.format('%.0f', n) end

-- A message whose job died or hangs must not hold every later delivery back for ever: once the oldest
-- open message has been the oldest for HOLD ms, it is dropped, with every message registered before
-- it became the oldest (those have been open at least as long: the jobs of one dead worker go
-- together instead of one HOLD each). Returns how many were dropped.
local function order_settle(hold)
  local head = redis.call('ZRANGE', K_OPEN, 0, 0)
  if #head == 0 then return 0 end
  local seen = redis.call('HMGET', K_HEAD, 'm', 't', 'c')
  if seen[1] ~= head[1] then
    redis.call('HSET', K_HEAD, 'm', head[1], 't', fmt(NOW), 'c', redis.call('GET', K_SEQ) or '0')
    return 0
  end
  if NOW - tonumber(seen[2]) < hold then return 0 end
  local dropped = redis.call('ZREMRANGEBYSCORE', K_OPEN, '-inf', seen[3])
  redis.call('DEL', K_HEAD)
  return dropped
end

-- The order key every delivery must stay below: that of the oldest message still being processed,
-- other than the caller's own; nil when nothing is.
local function order_barrier(own)
  local first = redis.call('ZRANGE', K_OPEN, 0, 1, 'WITHSCORES')
  local seq = nil
  if first[1] and first[1] ~= own then seq = first[2] elseif first[3] then seq = first[4] end
  if not seq then return nil end
  return tonumber(seq) * ORDER_SLOTS
end

local function order_below(barrier)
  if barrier then return '(' .. fmt(barrier) end
  return '+inf'
end

-- Takes up to \`limit\` connections off the deferred list whose held-back deliveries are now due.
local function order_take_due(limit)
  local due = redis.call('ZRANGEBYSCORE', K_DEFERRED, '-inf', order_below(order_barrier('')), 'LIMIT', 0, limit)
  if #due > 0 then redis.call('ZREM', K_DEFERRED, unpack(due)) end
  return due
end
`

const orderKeysPrelude = `
local K_SEQ, K_OPEN, K_HEAD, K_DEFERRED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local NOW = tonumber(ARGV[1])
if NOW == nil or NOW < 0 then
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

/** ARGV[2] message id, [3] '1' when later deliveries must wait for it. Returns its sequence number. */
export const registerScript = `${orderKeysPrelude}
local seq = redis.call('INCR', K_SEQ)
if ARGV[3] == '1' then redis.call('ZADD', K_OPEN, seq, ARGV[2]) end
return seq
`

/**
 * ARGV[2] message id now processed (or '' for none), [3] hold ms, [4] most connections to return.
 * Returns {dropped, {connectionIds whose held deliveries are now due}}; those leave the deferred set.
 */
export const finishScript = `${orderKeysPrelude}${orderHelpers}
if ARGV[2] ~= '' then redis.call('ZREM', K_OPEN, ARGV[2]) end
local dropped = order_settle(tonumber(ARGV[3]))
local due = order_take_due(tonumber(ARGV[4]))
-- Deliveries that waited behind another delivery's hold which has run out (its worker died).
local stale = redis.call('ZRANGEBYSCORE', K_DEFERRED_LIVE, '-inf', fmt(NOW), 'LIMIT', 0, tonumber(ARGV[4]))
if #stale > 0 then
  redis.call('ZREM', K_DEFERRED_LIVE, unpack(stale))
  local seen = {}
  for _, cid in ipairs(due) do seen[cid] = true end
  for _, cid in ipairs(stale) do
    if not seen[cid] then due[#due + 1] = cid end
  end
end
return {dropped, due}
`

/** Returns {open, deferred, oldest open since (ms, -1 if none), now}. */
export const orderStatsScript = `${orderKeysPrelude}
local since = redis.call('HGET', K_HEAD, 't')
if redis.call('ZCARD', K_OPEN) == 0 then since = nil end
return {redis.call('ZCARD', K_OPEN), redis.call('ZCARD', K_DEFERRED), since or '-1', string.format('%.0f', NOW)}
`
