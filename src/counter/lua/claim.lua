-- A primary's start is a clean slate for its host: whatever an earlier run
-- under the same HOST_ID left (the shares of workers that died with it, the
-- tombstones of workers it replaced) leaves the total, and from now on only
-- reports of this run count. Without this, a restarted primary's worker 1
-- reported into the tombstone its predecessor left for worker 1, and was never
-- counted; and an old worker's share that nobody removed stayed for good,
-- because the new workers kept the host's lease alive.
-- Idempotent: a second call for the same run finds the run already in place.
--
-- KEYS[1]  the shared total
-- KEYS[2]  the host's hash of worker counts
-- KEYS[3]  the host's run key: the id of the run whose reports count
-- ARGV[1]  this run's id
-- Returns the number of connections removed (what the earlier run left).
if redis.call('GET', KEYS[3]) == ARGV[1] then
  return 0
end
local sum = 0
for _, value in ipairs(redis.call('HVALS', KEYS[2])) do
  sum = sum + (tonumber(value) or 0)
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('DECRBY', KEYS[1], sum)
return sum
