--[[
  Pauses a job for its masks to be checked, in one step: only while the run that grounded it still
  owns it, it has not ended, nobody cancelled it meanwhile, and it was not paused before (a run
  after a crash finds its check and stops). The check is recorded, the job counted as waiting at
  its check (in all and in its thread), and its `checking` event appended, numbered as publish.lua
  numbers events.

    Input:
      KEYS[1] the job's seq counter
      KEYS[2] the job's events stream
      KEYS[3] the job's terminal marker
      KEYS[4] the job's current run (its BullMQ lock token)
      KEYS[5] the job's pending cancel (who cancelled it)
      KEYS[6] the job's check (a hash)
      KEYS[7] the ids of every job waiting at its check
      KEYS[8] its thread's jobs waiting at their check, or '' for a job in no thread

      ARGV[1] the pausing run's token (compared with KEYS[4])
      ARGV[2] the check's state JSON
      ARGV[3] the `checking` event's body JSON
      ARGV[4] ttl seconds
      ARGV[5] now (ms)
      ARGV[6] the job's id
      ARGV[7] when the check expires (ms)

    Output:
      'paused'; 'already' when the job was paused before; 'ended', 'superseded' (another run owns
      the job) or 'cancelled' when it may not pause.
]]
if redis.call('EXISTS', KEYS[3]) == 1 then return 'ended' end
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return 'superseded' end
if redis.call('EXISTS', KEYS[6]) == 1 then return 'already' end
if redis.call('EXISTS', KEYS[5]) == 1 then return 'cancelled' end
redis.call('HSET', KEYS[6], 'status', 'waiting', 'round', '1', 'deadline', ARGV[7], 'state', ARGV[2], 'thread', KEYS[8])
redis.call('EXPIRE', KEYS[6], ARGV[4])
redis.call('SADD', KEYS[7], ARGV[6])
if KEYS[8] ~= '' then
  redis.call('ZADD', KEYS[8], ARGV[5], ARGV[6])
  redis.call('EXPIRE', KEYS[8], ARGV[4])
end
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('XADD', KEYS[2], '*', 'seq', seq, 'at', ARGV[5], 'body', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 'paused'
