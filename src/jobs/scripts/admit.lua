--[[
  Admits a new job, in one step so that concurrent submits can neither pass the global cap nor a
  person's limit together. Ids of the person's jobs that already ended are dropped first, so a
  slot whose release was lost (a worker killed at the wrong moment) comes back; admitting ids
  older than ARGV[9] (a submitter that died before enqueueing) expire.

    Input:
      KEYS[1] the person's active set (ids of their jobs in the queue)
      KEYS[2] the person's backlog (held-back ids, oldest first)
      KEYS[3] the set of every held-back id
      KEYS[4] this job's held record
      KEYS[5] BullMQ's wait list
      KEYS[6] BullMQ's prioritized set
      KEYS[7] admitting: ids admitted but not yet in BullMQ, scored by when (ms)

      ARGV[1] job id
      ARGV[2] per-person limit
      ARGV[3] 'queue' | 'refuse': what happens over the limit
      ARGV[4] the job's JSON (kept as its held record)
      ARGV[5] ttl seconds
      ARGV[6] terminal-marker key prefix (a job id appended names its marker)
      ARGV[7] global cap on waiting jobs
      ARGV[8] now (ms)
      ARGV[9] how long an admitting id counts (ms)
      ARGV[10] how many held-back jobs one person may have

    Output:
      { outcome, waiting }: outcome is 'busy' (the cap is reached), 'admitted', 'refused' (over
      the person's limit, with 'refuse'), 'held-full' (their held-back jobs are at ARGV[10], so one
      person's burst cannot fill the queue for everyone) or 'held'; waiting counts the jobs
      waiting before this one.
]]
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', tonumber(ARGV[8]) - tonumber(ARGV[9]))
local waiting = redis.call('LLEN', KEYS[5]) + redis.call('ZCARD', KEYS[6]) + redis.call('SCARD', KEYS[3]) + redis.call('ZCARD', KEYS[7])
if waiting >= tonumber(ARGV[7]) then return {'busy', waiting} end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[6] .. id) == 1 then redis.call('SREM', KEYS[1], id) end
end
if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('ZADD', KEYS[7], ARGV[8], ARGV[1])
  redis.call('EXPIRE', KEYS[7], ARGV[5])
  return {'admitted', waiting}
end
if ARGV[3] == 'refuse' then return {'refused', waiting} end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[10]) then return {'held-full', waiting} end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[5])
return {'held', waiting}
