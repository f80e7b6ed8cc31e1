-- Removes exactly one worker's share from the total, when that worker died
-- without its own teardown (SIGKILL, a crash). The field becomes a tombstone so
-- that a report the dead worker had already sent cannot restore the share.
-- Idempotent: a second call finds the tombstone and removes nothing.
--
-- KEYS[1]  the shared total
-- KEYS[2]  the host's hash of worker counts
-- ARGV[1]  worker id
-- Returns the number of connections removed. (DECRBY, not INCRBY of a negation:
-- Lua turns -0 into the string "-0", which Redis refuses as an integer.)
local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0
redis.call('HSET', KEYS[2], ARGV[1], 'dead')
redis.call('DECRBY', KEYS[1], old)
return old
