/**
 * Lua scripts behind RedisPickupQueue. Each public operation is one script, so it is one atomic step
 * and one round trip however many workers call it at once.
 *
 * They live in a TypeScript module rather than in .lua files because `tsc` does not copy non-TS
 * files to dist/, and reading files relative to import.meta.url breaks under bundlers.
 *
 * Every script gets the same KEYS and the same first ARGV (see PICKUP_QUEUE_KEY_COUNT and the
 * prelude), followed by its own arguments from ARGV[5] on. Per-recipient index keys are derived from
 * ARGV[1] inside the script (not declared in KEYS): that is fine on a single Redis primary, which is
 * what the mediator targets, and is one reason this layout is not Redis Cluster ready.
 */

import { orderHelpers } from './inbound-order-scripts.js'

/** KEYS order shared by every pickup-queue script: the queue's own ten, then the four order keys. */
export const PICKUP_QUEUE_KEY_COUNT = 14

const prelude = `
local K_PENDING, K_INFLIGHT, K_AGE, K_PAYLOAD, K_META, K_STATE, K_RCPT, K_OLDEST, K_EXPIRED, K_LEASES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_SEQ, K_OPEN, K_HEAD, K_DEFERRED = KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local RCPT_PREFIX = ARGV[1]
local NOW = tonumber(ARGV[2])
local MAX_AGE = tonumber(ARGV[3])
local CID = ARGV[4]

-- A negative clock means "use the Redis server clock", so that workers whose clocks drift still
-- agree on lease deadlines and retention.
if NOW == nil or NOW < 0 then
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
${orderHelpers}
local function meta_of(id)
  local raw = redis.call('HGET', K_META, id)
  if not raw then return nil end
  return cjson.decode(raw)
end

-- Deletes one message and every index entry pointing at it. Returns true if it existed.
local function drop(id, m)
  m = m or meta_of(id)
  if not m then return false end
  redis.call('ZREM', K_PENDING, id)
  redis.call('ZREM', K_INFLIGHT, id)
  redis.call('ZREM', K_AGE, id)
  for _, did in ipairs(m.d) do redis.call('ZREM', RCPT_PREFIX .. did, id) end
  redis.call('HDEL', K_META, id)
  redis.call('HDEL', K_PAYLOAD, id)
  redis.call('HINCRBY', K_STATE, 'bytes', -m.b)
  return true
end

-- Puts a message back among the pending ones at its original position (score = its order key).
local function make_pending(id)
  local m = meta_of(id)
  redis.call('ZREM', K_INFLIGHT, id)
  if not m then return end
  redis.call('ZADD', K_PENDING, m.s, id)
  for _, did in ipairs(m.d) do redis.call('ZADD', RCPT_PREFIX .. did, m.s, id) end
end

local function requeue_leases_until(deadline)
  local ids = redis.call('ZRANGEBYSCORE', K_INFLIGHT, '-inf', deadline)
  for _, id in ipairs(ids) do make_pending(id) end
  return #ids
end

-- Retention: removes what was queued more than MAX_AGE ago and counts it, so expiry is never silent.
local function expire_old()
  if MAX_AGE <= 0 then return 0 end
  local ids = redis.call('ZRANGEBYSCORE', K_AGE, '-inf', '(' .. tostring(NOW - MAX_AGE))
  for _, id in ipairs(ids) do drop(id) end
  if #ids > 0 then redis.call('INCRBY', K_EXPIRED, #ids) end
  return #ids
end

-- Keeps the cross-connection retention index right, and removes the bookkeeping of an empty queue
-- so that a connection with nothing queued leaves no key behind.
local function sync_index()
  local first = redis.call('ZRANGE', K_AGE, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', K_OLDEST, CID)
    local dids = redis.call('SMEMBERS', K_RCPT)
    for _, did in ipairs(dids) do redis.call('DEL', RCPT_PREFIX .. did) end
    redis.call('DEL', K_STATE, K_RCPT, K_PENDING, K_INFLIGHT, K_PAYLOAD, K_META)
  else
    redis.call('ZADD', K_OLDEST, first[2], CID)
  end
end

-- Keeps the cross-connection lease index (connectionId -> earliest lease deadline) right, so that a
-- sweep finds the connections whose leases ran out without reading every queue. Called by every
-- script that may have changed the in-flight set.
local function sync_leases()
  local first = redis.call('ZRANGE', K_INFLIGHT, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', K_LEASES, CID)
  else
    redis.call('ZADD', K_LEASES, first[2], CID)
  end
end
`

/**
 * The add, as a function so that addScript and addTakeLiveScript queue in exactly the same way.
 * ARGV[5] id, [6] payload JSON, [7] recipient DIDs as a JSON array, [8] receivedAt ms (or -1 for
 * now), [9] payload bytes, [10] max messages (0 = no cap), [11] max bytes (0 = no cap),
 * [12] idempotency marker key or '' for none, [13] how long the marker lives (ms), [14] order key
 * (see orderKeyOf) or '' for "after everything registered so far".
 * Returns {'ok', expired}, {'dup', id of the earlier add} or
 * {'full', 'messages'|'bytes', limit, current, expired}.
 */
const addFunction = `
local function add_message()
  local id, payload, dids = ARGV[5], ARGV[6], cjson.decode(ARGV[7])
  local received, size = tonumber(ARGV[8]), tonumber(ARGV[9])
  local max_messages, max_bytes = tonumber(ARGV[10]), tonumber(ARGV[11])
  local idem_key, idem_window = ARGV[12], tonumber(ARGV[13])
  local okey = ARGV[14]
  if received < 0 then received = NOW end

  -- The same add again (a job retried after its worker died mid-way) must not queue a second copy,
  -- not even after the first one was confirmed and removed.
  if idem_key ~= '' then
    local earlier = redis.call('GET', idem_key)
    if earlier then return {'dup', earlier} end
  end

  local expired = expire_old()
  local count = redis.call('HLEN', K_META)
  if max_messages > 0 and count + 1 > max_messages then
    if expired > 0 then sync_index() sync_leases() end
    return {'full', 'messages', max_messages, count, expired}
  end
  local bytes = tonumber(redis.call('HGET', K_STATE, 'bytes') or '0')
  if max_bytes > 0 and bytes + size > max_bytes then
    if expired > 0 then sync_index() sync_leases() end
    return {'full', 'bytes', max_bytes, bytes, expired}
  end

  -- The place in the order the relays acknowledged messages in, not the order workers queue them in:
  -- a message queued late by a slow worker still goes before the ones acknowledged after it.
  if okey == '' then okey = fmt(redis.call('INCR', K_SEQ) * ORDER_SLOTS) end
  redis.call('HINCRBY', K_STATE, 'bytes', size)
  redis.call('HSET', K_PAYLOAD, id, payload)
  redis.call('HSET', K_META, id, cjson.encode({ s = okey, r = received, b = size, d = dids }))
  redis.call('ZADD', K_PENDING, okey, id)
  redis.call('ZADD', K_AGE, NOW, id)
  for _, did in ipairs(dids) do
    redis.call('ZADD', RCPT_PREFIX .. did, okey, id)
    redis.call('SADD', K_RCPT, did)
  end
  -- The oldest message only changes when the queue was empty or retention removed something.
  if count == 0 or expired > 0 then sync_index() end
  if expired > 0 then sync_leases() end
  if idem_key ~= '' then redis.call('SET', idem_key, id, 'PX', idem_window) end
  return {'ok', expired}
end
`

/**
 * A live delivery's hold on its connection (fields of the state HASH, so an empty queue still leaves
 * no key): while one worker sends a batch to the wallet's socket, another must not send a later batch
 * that could reach the socket first. The holder hands on (release_live) once the relay answered.
 */
const liveLockFunctions = `
local function live_lock_holder()
  local lock = redis.call('HMGET', K_STATE, 'lk', 'lku')
  if lock[1] and tonumber(lock[2]) >= NOW then return lock[1] end
  return nil
end

-- Releases the hold of the given token; returns 1 if it held it.
local function release_live(token)
  if redis.call('HGET', K_STATE, 'lk') ~= token then return 0 end
  redis.call('HDEL', K_STATE, 'lk', 'lku')
  return 1
end
`

/**
 * The take, as a function shared by takeScript and addTakeLiveScript. It hands out only messages
 * older than every message still being processed but `own` (see InboundOrder); with `defer`, a
 * connection with messages held back that way is put on the deferred list, so whoever finishes the
 * message it waits for delivers them. A live take (`token` not '') takes nothing while another live
 * delivery holds the connection, and holds it for `lock_ms` when it took something.
 * Returns {expired, state, id1, payload1, receivedAt1, id2, ...} in queue order, where state is 0, 1
 * when messages were held back for an earlier message, or 2 when another delivery holds the connection.
 */
const takeFunction = `
local function take_messages(limit, rdid, delete, lease, own, hold, defer, token, lock_ms)
  local expired = expire_old()
  requeue_leases_until(NOW)
  order_settle(hold)
  local barrier = order_barrier(own)
  local out = {expired, 0}
  if token ~= '' then
    local holder = live_lock_holder()
    if holder and holder ~= token then
      out[2] = 2
      limit = 0
      -- Left to the holder, which hands on once its send was answered. A holder that died never does:
      -- the periodic check (InboundOrder.finish) delivers once its hold has run out.
      if defer then redis.call('ZADD', K_DEFERRED_LIVE, 'GT', redis.call('HGET', K_STATE, 'lku'), CID) end
    end
  end
  if limit > 0 then
    local source = K_PENDING
    if rdid ~= '' then source = RCPT_PREFIX .. rdid end
    local ids = redis.call('ZRANGEBYSCORE', source, '-inf', order_below(barrier), 'LIMIT', 0, limit)
    for _, id in ipairs(ids) do
      local m = meta_of(id)
      if m then
        out[#out + 1] = id
        out[#out + 1] = redis.call('HGET', K_PAYLOAD, id)
        out[#out + 1] = string.format('%d', m.r)
        if delete then
          drop(id, m)
        else
          redis.call('ZREM', K_PENDING, id)
          for _, did in ipairs(m.d) do redis.call('ZREM', RCPT_PREFIX .. did, id) end
          redis.call('ZADD', K_INFLIGHT, NOW + lease, id)
        end
      else
        -- An index entry without its message cannot be delivered; drop it so it cannot block the head.
        redis.call('ZREM', source, id)
        redis.call('ZREM', K_PENDING, id)
      end
    end
  end
  if token ~= '' and #out > 2 then
    redis.call('HSET', K_STATE, 'lk', token, 'lku', fmt(NOW + lock_ms))
  end
  if barrier and out[2] == 0 then
    local next = redis.call('ZRANGE', K_PENDING, 0, 0, 'WITHSCORES')
    if next[2] and tonumber(next[2]) >= barrier then
      out[2] = 1
      if defer then redis.call('ZADD', K_DEFERRED, 'LT', next[2], CID) end
    end
  end
  -- Leasing leaves the set of held messages unchanged; only deletions move the oldest one.
  if expired > 0 or delete then sync_index() end
  sync_leases()
  return out
end
`

/** See addFunction for ARGV and the reply. */
export const addScript = `${prelude}${addFunction}
return add_message()
`

/**
 * ARGV[5] limit, [6] recipient DID or '' for all, [7] '1' to delete instead of leasing, [8] lease ms,
 * [9] the caller's own inbound message id or '', [10] order hold ms, [11] '1' to defer what is held,
 * [12] live delivery token or '' for a pickup, [13] how long a live delivery holds the connection (ms).
 * Returns what take_messages returns.
 */
export const takeScript = `${prelude}${liveLockFunctions}${takeFunction}
return take_messages(tonumber(ARGV[5]), ARGV[6], ARGV[7] == '1', tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10]),
  ARGV[11] == '1', ARGV[12], tonumber(ARGV[13]))
`

/**
 * ARGV[5] live delivery token, [6] order hold ms. Ends that delivery's hold on the connection and
 * says how many messages are available to deliver now. Returns {released (0/1), available, expired}.
 */
export const releaseLiveScript = `${prelude}${liveLockFunctions}
local expired = expire_old()
requeue_leases_until(NOW)
local released = release_live(ARGV[5])
order_settle(tonumber(ARGV[6]))
local barrier = order_barrier('')
local available = redis.call('ZCOUNT', K_PENDING, '-inf', order_below(barrier))
-- What came meanwhile may also wait for a message in process: a take that found the connection held
-- left it to the holder, so the holder puts it on the deferred list for whoever finishes that one.
if available == 0 and barrier then
  local next = redis.call('ZRANGE', K_PENDING, 0, 0, 'WITHSCORES')
  if next[2] then redis.call('ZADD', K_DEFERRED, 'LT', next[2], CID) end
end
if expired > 0 then sync_index() end
sync_leases()
return {released, available, expired}
`

/** KEYS of addTakeLiveScript: the shared ones, then the live-session directory entry (a HASH). */
export const ADD_TAKE_LIVE_KEY_COUNT = PICKUP_QUEUE_KEY_COUNT + 1

/**
 * Queues like addScript, then, if the connection has a live-session directory entry (KEYS[15]),
 * takes up to ARGV[15] pending messages under a lease of ARGV[16] ms for delivery to it, as
 * take_messages does for the inbound message ARGV[17] with the order hold ARGV[18], as the live
 * delivery ARGV[19] holding the connection for ARGV[20] ms: the forward
 * path's add, directory lookup and take in one round trip. A duplicate add still takes, as a
 * retried job would have delivered what is pending. A full queue takes nothing.
 *
 * With ARGV[21] = '1' this add is the last one of the inbound message ARGV[17]: once it is queued,
 * that message holds nothing back any more (InboundOrder.finish, in the same step), and the reply
 * says which other connections' held-back deliveries have become due (at most ARGV[22]), for the
 * caller to deliver. This connection is never among them when it is live: this take serves it.
 *
 * Returns {add reply} when the add was refused, else {add reply, due connections, entry fields as
 * HGETALL returns them (none without an entry), take reply as takeScript returns it (none without an
 * entry)}.
 */
export const addTakeLiveScript = `${prelude}${addFunction}${liveLockFunctions}${takeFunction}
local added = add_message()
if added[1] == 'full' then return {added} end
local own = ARGV[17]
local due = {}
if ARGV[21] == '1' and own ~= '' and redis.call('ZREM', K_OPEN, own) == 1 then
  order_settle(tonumber(ARGV[18]))
  due = order_take_due(tonumber(ARGV[22]))
end
local entry = redis.call('HGETALL', KEYS[15])
if #entry == 0 then return {added, due, {}, {}} end
local others = {}
for _, cid in ipairs(due) do
  if cid ~= CID then others[#others + 1] = cid end
end
return {added, others, entry, take_messages(tonumber(ARGV[15]), '', false, tonumber(ARGV[16]), own, tonumber(ARGV[18]), true,
  ARGV[19], tonumber(ARGV[20]))}
`

/** KEYS of takeLiveScript: the shared ones, then the live-session directory entry (a HASH). */
export const TAKE_LIVE_KEY_COUNT = PICKUP_QUEUE_KEY_COUNT + 1

/**
 * A live delivery's take, with the directory lookup in the same step: if the connection has a
 * live-session entry (KEYS[15]), takes up to ARGV[5] pending messages under a lease of ARGV[6] ms, as
 * take_messages does for the inbound message ARGV[7] with the order hold ARGV[8], as the live
 * delivery ARGV[9] holding the connection for ARGV[10] ms. The same token again after a written send
 * is the holder handing on: it goes on holding while there is something to take, and releases its
 * hold in the same step when there is nothing (or no entry): one round trip per batch, none extra.
 * Returns {entry fields as HGETALL returns them, take reply as takeScript returns it}, or {} without
 * an entry.
 */
export const takeLiveScript = `${prelude}${liveLockFunctions}${takeFunction}
local token = ARGV[9]
local entry = redis.call('HGETALL', KEYS[15])
if #entry == 0 then
  release_live(token)
  return {}
end
local taken = take_messages(tonumber(ARGV[5]), '', false, tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8]), true,
  token, tonumber(ARGV[10]))
if #taken == 2 then release_live(token) end
return {entry, taken}
`

/** ARGV[5..] message ids. Returns {removed, expired}. */
export const removeScript = `${prelude}
local expired = expire_old()
local removed = 0
for i = 5, #ARGV do
  if drop(ARGV[i]) then removed = removed + 1 end
end
sync_index()
sync_leases()
return {removed, expired}
`

/** ARGV[5] recipient DID or ''. Returns {available, expired}. */
export const countScript = `${prelude}
local rdid = ARGV[5]
local expired = expire_old()
requeue_leases_until(NOW)
local available
if rdid ~= '' then
  available = redis.call('ZCARD', RCPT_PREFIX .. rdid)
else
  available = redis.call('ZCARD', K_PENDING)
end
if expired > 0 then sync_index() end
sync_leases()
return {available, expired}
`

/** Returns {pending, inFlight, bytes, oldestQueuedAt (-1 if empty), expired}. */
export const statsScript = `${prelude}
local expired = expire_old()
requeue_leases_until(NOW)
local first = redis.call('ZRANGE', K_AGE, 0, 0, 'WITHSCORES')
local oldest = -1
if #first > 0 then oldest = tonumber(first[2]) end
local result = {
  redis.call('ZCARD', K_PENDING),
  redis.call('ZCARD', K_INFLIGHT),
  tonumber(redis.call('HGET', K_STATE, 'bytes') or '0'),
  oldest,
  expired,
}
if expired > 0 then sync_index() end
sync_leases()
return result
`

/**
 * ARGV[5..] message ids, or none for all. Makes those in-flight messages pending again at once.
 * Returns {released, expired}.
 */
export const releaseScript = `${prelude}
local expired = expire_old()
local released = 0
if #ARGV < 5 then
  released = requeue_leases_until('+inf')
else
  for i = 5, #ARGV do
    if redis.call('ZSCORE', K_INFLIGHT, ARGV[i]) then
      make_pending(ARGV[i])
      released = released + 1
    end
  end
end
if expired > 0 then sync_index() end
sync_leases()
return {released, expired}
`

/** Only applies retention. Returns {expired}. Used by the sweep. */
export const expireScript = `${prelude}
local expired = expire_old()
sync_index()
sync_leases()
return {expired}
`

/**
 * Makes messages whose lease ran out pending again (what a take does first), for the lease sweep.
 * Returns {requeued, pending, expired}.
 */
export const requeueExpiredScript = `${prelude}
local expired = expire_old()
local requeued = requeue_leases_until(NOW)
if expired > 0 then sync_index() end
sync_leases()
return {requeued, redis.call('ZCARD', K_PENDING), expired}
`

/** Deletes a connection's whole queue (not counted as expiry). Returns {deleted}. */
export const deleteConnectionScript = `${prelude}
local deleted = redis.call('HLEN', K_META)
redis.call('DEL', K_AGE)
sync_index()
sync_leases()
return {deleted}
`
