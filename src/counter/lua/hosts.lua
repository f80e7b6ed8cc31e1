-- Reads the whole count in one step: the total, each host's share, its live
-- workers and the age of its lease, and the hosts that have gone lately. The
-- primary of every host runs it once a second for the status feed.
--
-- KEYS[1]  the shared total
-- KEYS[2]  the set of host ids
-- KEYS[3]  the list of hosts that have gone (see remove-host.lua and reap.lua)
-- ARGV[1]  the key prefix; host keys are <prefix>host:<id> and <prefix>lease:<id>
-- Returns { total, now in ms, { id, connections, workers, lease set at (ms) or -1 }..., { gone entries } }
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local hosts = {}
for _, host in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local sum, workers = 0, 0
  for _, value in ipairs(redis.call('HVALS', ARGV[1] .. 'host:' .. host)) do
    local held = tonumber(value)
    if held ~= nil then
      sum = sum + held
      workers = workers + 1
    end
  end
  local leased = tonumber(redis.call('GET', ARGV[1] .. 'lease:' .. host)) or -1
  table.insert(hosts, { host, sum, workers, leased })
end
return { tonumber(redis.call('GET', KEYS[1])) or 0, now, hosts, redis.call('LRANGE', KEYS[3], 0, -1) }
