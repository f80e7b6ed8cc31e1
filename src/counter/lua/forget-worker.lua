-- Forgets a dead worker's tombstone (see remove-worker.lua) once it has
-- outlived any report the worker could have sent before it died, so that the
-- fields of replaced workers do not pile up in the host's hash (a rolling
-- restart leaves one per worker) for hosts.lua to walk every second.
-- Only a tombstone goes: a field that holds a count is left alone.
--
-- KEYS[1]  the host's hash of worker counts
-- ARGV[1]  worker id
-- Returns 1 if the tombstone was removed, else 0.
if redis.call('HGET', KEYS[1], ARGV[1]) == 'dead' then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
