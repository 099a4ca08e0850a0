"""The Lua scripts: the cache's TTL, cap and trimming policy, in one place.

Every script takes only keys of one session (one Cluster slot), KEYS[1..3] always its
records, index and pending set (`Keys.session_keys`). The policy, as `settle()` below
applies it: a session keeps at most `cap` records, dropping its oldest *durable* ones
(a pending record is never dropped), and it expires `ttl` after its last read or write
only once nothing in it is pending. PEXPIRE NX/XX needs Redis >= 7.0.
"""

from __future__ import annotations

# Shared by the scripts below. KEYS[1..3] are always records, index, pending.
# settle(): trim the session to `cap` records by dropping its oldest durable ones
# (pending ones are never dropped), then give it its TTL if nothing is pending.
_SETTLE = """
local h, idx, pend = KEYS[1], KEYS[2], KEYS[3]
local function settle(ttl, cap)
  local excess = redis.call('HLEN', h) - cap
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
      if excess <= 0 then break end
      if redis.call('SISMEMBER', pend, id) == 0 then
        excess = excess - redis.call('HDEL', h, id)
        redis.call('ZREM', idx, id)
      end
    end
  end
  if redis.call('SCARD', pend) == 0 then
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', idx, ttl)
  end
end
"""

# KEYS[4..]: a `dur` note per record. ARGV: ttl ms, cap, note seconds, then
# (created_at, id) per record now in the database. A record not cached (yet) gets
# its note: on a Cluster its session write may still be on the way.
MARK_DURABLE = (
    _SETTLE
    + """
for j = 4, #KEYS do
  local a = 4 + (j - 4) * 2
  redis.call('SREM', pend, ARGV[a + 1])
  if redis.call('HEXISTS', h, ARGV[a + 1]) == 1 then
    redis.call('ZADD', idx, ARGV[a], ARGV[a + 1])
  else
    redis.call('SET', KEYS[j], '1', 'EX', ARGV[3])
  end
end
settle(ARGV[1], tonumber(ARGV[2]))
return 0
"""
)

# One server (or a Sentinel primary): a lookup's upkeep, in the pipeline beside its
# HGETALL (or HGET). KEYS: records, index, this instance's marker (or the records again,
# when there is none). ARGV: ttl ms, marker ms (0: no marker). Renews the session's TTL
# (XX: it keeps off sessions still holding pending records); returns 1 if the marker
# was missing (Redis lost data), else 0. One reply instead of three; the records
# themselves stay out of Lua (above).
TOUCH = """
redis.call('PEXPIRE', KEYS[1], ARGV[1], 'XX')
redis.call('PEXPIRE', KEYS[2], ARGV[1], 'XX')
if ARGV[2] ~= '0' and redis.call('SET', KEYS[3], '1', 'PX', ARGV[2], 'NX') then
  return 1
end
return 0
"""

# One server (or a Sentinel primary): the whole record in one call. KEYS[4]: the
# stream, KEYS[5]: this instance's marker (or the stream again, when there is none).
# ARGV: id, packed value, created_at, marker ms (0: no marker), then the stream
# entry's field/value pairs. Returns 1 when the marker was missing: Redis lost data.
RECORD = """
local h, idx, pend = KEYS[1], KEYS[2], KEYS[3]
redis.call('HSET', h, ARGV[1], ARGV[2])
redis.call('ZADD', idx, ARGV[3], ARGV[1])
redis.call('SADD', pend, ARGV[1])
redis.call('PERSIST', h)
redis.call('PERSIST', idx)
redis.call('XADD', KEYS[4], '*', unpack(ARGV, 5))
if ARGV[4] ~= '0' and redis.call('SET', KEYS[5], '1', 'PX', ARGV[4], 'NX') then
  return 1
end
return 0
"""

# Redis Cluster's session write, after the journal entry (see the module notes).
# KEYS[4]: the record's `dur` note. ARGV: ttl ms, cap, id, packed value, created_at.
ADD_PENDING = (
    _SETTLE
    + """
redis.call('HSET', h, ARGV[3], ARGV[4])
redis.call('ZADD', idx, ARGV[5], ARGV[3])
if redis.call('EXISTS', KEYS[4]) == 1 then
  settle(ARGV[1], tonumber(ARGV[2]))
else
  redis.call('SADD', pend, ARGV[3])
  redis.call('PERSIST', h)
  redis.call('PERSIST', idx)
end
return 0
"""
)

# KEYS[4..]: a tombstone per record. ARGV: ttl ms, cap, then (created_at, id,
# packed value) per record read back from the database; tombstoned ones are skipped.
REFILL = (
    _SETTLE
    + """
for j = 4, #KEYS do
  local a = 3 + (j - 4) * 3
  if redis.call('EXISTS', KEYS[j]) == 0 then
    redis.call('HSET', h, ARGV[a + 1], ARGV[a + 2])
    redis.call('ZADD', idx, ARGV[a], ARGV[a + 1])
  end
end
settle(ARGV[1], tonumber(ARGV[2]))
return 0
"""
)

# KEYS[4]: the tombstone. ARGV: ttl ms, id, tombstone seconds. Returns 1 if it was cached.
REMOVE = """
local h, idx, pend = KEYS[1], KEYS[2], KEYS[3]
local removed = redis.call('HDEL', h, ARGV[2])
redis.call('ZREM', idx, ARGV[2])
redis.call('SREM', pend, ARGV[2])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[3])
if redis.call('SCARD', pend) == 0 then
  redis.call('PEXPIRE', h, ARGV[1], 'NX')
  redis.call('PEXPIRE', idx, ARGV[1], 'NX')
end
return removed
"""
