/**
 * Lua scripts behind LiveSessionDirectory; each public write is one script, so it is atomic across
 * all workers and relays. Kept as TypeScript strings so that `tsc` ships them in dist/.
 *
 * An entry stores the names of its socket and relay index keys (fields sockKey and relayKey), so a
 * script can clean up after an entry without re-deriving key names in Lua. Those keys are not all
 * declared in KEYS: fine on the single Redis primary the mediator targets, not Redis Cluster ready.
 */

const removeSocketFunction = `
-- Drops every entry that still points at the socket, then the socket's index and its place in the
-- relay's index, and leaves a tombstone so that a registration for this socket arriving late is refused.
local function remove_socket(conn_prefix, sock_key, relay_key, tombstone_ms)
  local removed = {}
  for _, cid in ipairs(redis.call('SMEMBERS', sock_key)) do
    local conn_key = conn_prefix .. cid
    if redis.call('HGET', conn_key, 'sockKey') == sock_key then
      redis.call('DEL', conn_key)
      removed[#removed + 1] = cid
    end
  end
  redis.call('DEL', sock_key)
  redis.call('SREM', relay_key, sock_key)
  if tombstone_ms > 0 then redis.call('SET', sock_key .. ':closed', '1', 'PX', tombstone_ms) end
  return removed
end
`

/**
 * KEYS[1] entry, [2] socket index, [3] relay index, [4] socket tombstone.
 * ARGV[1] connectionId, [2] relayId, [3] socketId, [4] transport, [5] registeredAt, [6] sessionId or
 * '', [7] registeredBy or '', [8] TTL ms, [9] keys JSON or ''.
 * Returns 'registered', 'refreshed' (same socket again), 'replaced' (an older socket's entry),
 * 'stale' (the current entry is newer; nothing written) or 'socket-closed' (nothing written).
 */
export const registerScript = `
local conn_key, sock_key, relay_key, tombstone = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cid, relay_id, socket_id, registered_at = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local ttl = tonumber(ARGV[8])
if redis.call('EXISTS', tombstone) == 1 then return 'socket-closed' end

local outcome = 'registered'
local cur = redis.call('HMGET', conn_key, 'registeredAt', 'socketId', 'relayId', 'sockKey', 'relayKey')
if cur[1] then
  -- Newest wins: registeredAt, then socketId, then relayId, so every worker decides the same way
  -- whatever order the registrations arrive in.
  local cur_at = tonumber(cur[1])
  if cur_at > registered_at then return 'stale' end
  if cur_at == registered_at and (cur[2] > socket_id or (cur[2] == socket_id and cur[3] > relay_id)) then
    return 'stale'
  end
  if cur[4] == sock_key then
    outcome = 'refreshed'
  else
    outcome = 'replaced'
    redis.call('SREM', cur[4], cid)
    if redis.call('EXISTS', cur[4]) == 0 then redis.call('SREM', cur[5], cur[4]) end
  end
end

redis.call('DEL', conn_key)
redis.call('HSET', conn_key, 'relayId', relay_id, 'socketId', socket_id, 'transport', ARGV[4],
  'registeredAt', ARGV[5], 'sockKey', sock_key, 'relayKey', relay_key)
if ARGV[6] ~= '' then redis.call('HSET', conn_key, 'sessionId', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', conn_key, 'registeredBy', ARGV[7]) end
if ARGV[9] ~= '' then redis.call('HSET', conn_key, 'keys', ARGV[9]) end
-- Every write sets each index's TTL to the full TTL, so an index always outlives the entries in it.
redis.call('PEXPIRE', conn_key, ttl)
redis.call('SADD', sock_key, cid)
redis.call('PEXPIRE', sock_key, ttl)
redis.call('SADD', relay_key, sock_key)
redis.call('PEXPIRE', relay_key, ttl)
return outcome
`

/**
 * KEYS[1] entry. ARGV[1] connectionId, [2] socketId, [3] relayId or '' for any.
 * Returns 1 if the entry pointed at that socket and was removed, else 0.
 */
export const unregisterScript = `
local conn_key, cid = KEYS[1], ARGV[1]
local cur = redis.call('HMGET', conn_key, 'socketId', 'relayId', 'sockKey', 'relayKey')
if not cur[1] or cur[1] ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and cur[2] ~= ARGV[3] then return 0 end
redis.call('DEL', conn_key)
redis.call('SREM', cur[3], cid)
if redis.call('EXISTS', cur[3]) == 0 then redis.call('SREM', cur[4], cur[3]) end
return 1
`

/**
 * KEYS[1] entry. ARGV[1] connectionId, [2] socketId, [3] TTL ms.
 * Extends the TTLs of an entry (and its indexes) that still points at the socket. Returns 1 or 0.
 */
export const touchScript = `
local conn_key, cid, ttl = KEYS[1], ARGV[1], tonumber(ARGV[3])
local cur = redis.call('HMGET', conn_key, 'socketId', 'sockKey', 'relayKey')
if not cur[1] or cur[1] ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', conn_key, ttl)
redis.call('PEXPIRE', cur[2], ttl)
redis.call('PEXPIRE', cur[3], ttl)
return 1
`

/**
 * KEYS[1] entry, [2] socket index. ARGV[1] checkedAt (ms).
 * Records that a worker checked the entry's keys against storage at checkedAt, if the entry still
 * points at the socket; an earlier check never overwrites a later one. Returns 1 or 0.
 */
export const vouchScript = `
local conn_key, sock_key, checked_at = KEYS[1], KEYS[2], tonumber(ARGV[1])
if redis.call('HGET', conn_key, 'sockKey') ~= sock_key then return 0 end
local cur = tonumber(redis.call('HGET', conn_key, 'checkedAt') or '0')
if checked_at > cur then redis.call('HSET', conn_key, 'checkedAt', ARGV[1]) end
return 1
`

/**
 * KEYS[1] socket index, [2] relay index. ARGV[1] entry key prefix, [2] tombstone TTL ms.
 * Returns the connectionIds whose entries were removed.
 */
export const removeSocketScript = `${removeSocketFunction}
return remove_socket(ARGV[1], KEYS[1], KEYS[2], tonumber(ARGV[2]))
`

/**
 * KEYS[1] relay index. ARGV[1] entry key prefix, [2] sockets per batch, [3] tombstone TTL ms.
 * Removes up to one batch of the relay's sockets. Returns {entries removed, sockets left}.
 */
export const removeRelayBatchScript = `${removeSocketFunction}
local relay_key, tombstone_ms = KEYS[1], tonumber(ARGV[3])
local removed = 0
local sockets = redis.call('SPOP', relay_key, tonumber(ARGV[2]))
for _, sock_key in ipairs(sockets) do
  removed = removed + #remove_socket(ARGV[1], sock_key, relay_key, tombstone_ms)
end
return {removed, redis.call('SCARD', relay_key)}
`

/**
 * KEYS[1] socket index. ARGV[1] entry key prefix.
 * Returns, flat, connectionId and the entry's fields (HGETALL) for every entry that still points at
 * the socket. Read only.
 */
export const socketSessionsScript = `
local found = {}
for _, cid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local conn_key = ARGV[1] .. cid
  if redis.call('HGET', conn_key, 'sockKey') == KEYS[1] then
    found[#found + 1] = cid
    found[#found + 1] = redis.call('HGETALL', conn_key)
  end
end
return found
`
