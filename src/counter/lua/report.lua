-- Sets one worker's absolute connection count and moves the shared total by
-- the difference, in one atomic step. Reporting an absolute value makes the
-- call idempotent: ioredis re-sends commands that were in flight across a
-- reconnect, and a replayed report changes nothing.
--
-- KEYS[1]  the shared total (a string holding an integer; `GET connections`)
-- KEYS[2]  this host's hash: worker id -> that worker's count ("dead" once removed)
-- KEYS[3]  this host's lease key, which expires unless renewed; it holds the
--          time of the last report (ms since the epoch): the lease's age
-- KEYS[4]  the set of host ids that have a share in the total
-- KEYS[5]  this host's run key: the run whose reports count (see claim.lua)
-- ARGV[1]  worker id (the hash field)
-- ARGV[2]  the worker's current count
-- ARGV[3]  lease length in milliseconds
-- ARGV[4]  this host's id
-- ARGV[5]  the id of the primary's run this worker belongs to
-- Returns the total after the change.
local run = redis.call('GET', KEYS[5])
if run ~= ARGV[5] then
  if run then
    -- Another run holds this host: a worker of an earlier run whose report
    -- arrives late, or a report sent before this run's primary has claimed
    -- the host (the next one, a second later, counts).
    return redis.call('INCRBY', KEYS[1], 0)
  end
  -- No run holds the host: Redis restarted empty, or the host was reaped or
  -- removed. This run takes it back, with a clean slate as in claim.lua.
  local sum = 0
  for _, value in ipairs(redis.call('HVALS', KEYS[2])) do
    sum = sum + (tonumber(value) or 0)
  end
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[5], ARGV[5])
  redis.call('DECRBY', KEYS[1], sum)
end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old == 'dead' then
  -- The primary already removed this worker (it died); a late report from it
  -- must not bring its share back.
  return redis.call('INCRBY', KEYS[1], 0)
end
local delta = tonumber(ARGV[2]) - (tonumber(old) or 0)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local time = redis.call('TIME')
redis.call('SET', KEYS[3], tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), 'PX', ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
return redis.call('INCRBY', KEYS[1], delta)
