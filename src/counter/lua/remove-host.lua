-- Removes a whole host's share: at a clean shutdown, or when another host's
-- lease has expired (its machine died with all its workers).
-- Idempotent: the hash is deleted in the same step, so a second call finds nothing.
--
-- KEYS[1]  the shared total
-- KEYS[2]  the host's hash of worker counts
-- KEYS[3]  the host's lease key
-- KEYS[4]  the set of host ids
-- ARGV[1]  the host id
-- Returns the number of connections removed.
local sum = 0
for _, value in ipairs(redis.call('HVALS', KEYS[2])) do
  sum = sum + (tonumber(value) or 0)
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('DECRBY', KEYS[1], sum)
return sum
