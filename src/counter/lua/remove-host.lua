-- Removes a whole host's share: at a clean shutdown, or when another host's
-- lease has expired (its machine died with all its workers).
-- Idempotent: the hash is deleted in the same step, so a second call finds nothing.
--
-- KEYS[1]  the shared total
-- KEYS[2]  the host's hash of worker counts
-- KEYS[3]  the host's lease key
-- KEYS[4]  the set of host ids
-- KEYS[5]  the list of hosts that have gone: the last 20, newest first
-- KEYS[6]  the host's run key (see claim.lua): no run holds the host any more
-- ARGV[1]  the host id
-- ARGV[2]  why it went ("stopped": a clean shutdown); empty: not recorded
-- Returns the number of connections removed.
local sum = 0
for _, value in ipairs(redis.call('HVALS', KEYS[2])) do
  sum = sum + (tonumber(value) or 0)
end
local present = redis.call('SREM', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[6])
redis.call('DECRBY', KEYS[1], sum)
if present == 1 and ARGV[2] ~= '' then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  redis.call('LPUSH', KEYS[5], ARGV[1] .. '\t' .. ARGV[2] .. '\t' .. sum .. '\t' .. now)
  redis.call('LTRIM', KEYS[5], 0, 19)
end
return sum
