--[[
  Frees a finished job's slot and promotes the person's oldest held-back job, if any; held jobs
  whose record expired are skipped.

    Input:
      KEYS[1] the person's active set
      KEYS[2] the person's backlog
      KEYS[3] the set of every held-back id
      KEYS[4] admitting (see admit.lua): the promoted id counts there until it is in BullMQ

      ARGV[1] the finished job's id
      ARGV[2] per-person limit
      ARGV[3] held-record key prefix (a job id appended names its record)
      ARGV[4] now (ms)
      ARGV[5] ttl seconds

    Output:
      the promoted job's JSON, or nil.
]]
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return nil end
while true do
  local nextId = redis.call('LPOP', KEYS[2])
  if not nextId then return nil end
  redis.call('SREM', KEYS[3], nextId)
  local json = redis.call('GET', ARGV[3] .. nextId)
  if json then
    redis.call('DEL', ARGV[3] .. nextId)
    redis.call('SADD', KEYS[1], nextId)
    redis.call('ZADD', KEYS[4], ARGV[4], nextId)
    redis.call('EXPIRE', KEYS[4], ARGV[5])
    return json
  end
end
