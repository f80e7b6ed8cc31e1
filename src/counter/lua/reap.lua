-- Removes the share of every host whose lease has expired. Any live primary
-- runs this once a second, so a dead host's connections leave the total within
-- one lease. The per-host keys are built here from the prefix, so this script
-- is for a single Redis, not Redis Cluster.
--
-- KEYS[1]  the shared total
-- KEYS[2]  the set of host ids
-- KEYS[3]  the list of hosts that have gone: the last 20, newest first
-- ARGV[1]  the key prefix; host keys are <prefix>host:<id>, <prefix>lease:<id> and <prefix>run:<id>
-- Returns a flat list: host id, connections removed, host id, connections removed, ...
local reaped = {}
for _, host in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[1] .. 'lease:' .. host) == 0 then
    local hash = ARGV[1] .. 'host:' .. host
    local sum = 0
    for _, value in ipairs(redis.call('HVALS', hash)) do
      sum = sum + (tonumber(value) or 0)
    end
    redis.call('DEL', hash, ARGV[1] .. 'run:' .. host)
    redis.call('SREM', KEYS[2], host)
    redis.call('DECRBY', KEYS[1], sum)
    local time = redis.call('TIME')
    local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    redis.call('LPUSH', KEYS[3], host .. '\tlease expired\t' .. sum .. '\t' .. now)
    redis.call('LTRIM', KEYS[3], 0, 19)
    table.insert(reaped, host)
    table.insert(reaped, sum)
  end
end
return reaped
