--[[
  Replaces the plan of a job waiting at its check after a fix, in one step with its `checking`
  event (numbered as publish.lua numbers events): only while the check still waits and is at the
  round the fix was applied to, so two fixes applied at once cannot both win.

    Input:
      KEYS[1] the job's seq counter
      KEYS[2] the job's events stream
      KEYS[3] the job's terminal marker
      KEYS[4] the job's check (a hash)

      ARGV[1] the round the fix was applied to
      ARGV[2] the check's new state JSON
      ARGV[3] the `checking` event's body JSON (for round ARGV[1] + 1)
      ARGV[4] ttl seconds
      ARGV[5] now (ms)

    Output:
      'updated'; 'stale' when another fix changed the plan first; 'ended' or 'gone' when the job or
      its check no longer exists; else the check's status ('going', 'cancelled', 'expired').
]]
if redis.call('EXISTS', KEYS[3]) == 1 then return 'ended' end
local status = redis.call('HGET', KEYS[4], 'status')
if not status then return 'gone' end
if status ~= 'waiting' then return status end
if redis.call('HGET', KEYS[4], 'round') ~= ARGV[1] then return 'stale' end
redis.call('HSET', KEYS[4], 'round', tostring(tonumber(ARGV[1]) + 1), 'state', ARGV[2])
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('XADD', KEYS[2], '*', 'seq', seq, 'at', ARGV[5], 'body', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 'updated'
