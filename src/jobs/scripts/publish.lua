--[[
  Appends one event to a job's stream, numbering it in the same step, so stream order and seq
  always agree; a terminal event closes the stream to every later event.

    Input:
      KEYS[1] the job's seq counter
      KEYS[2] the job's events stream
      KEYS[3] the job's terminal marker
      KEYS[4] the job's current run (its BullMQ lock token), or '' for a publisher that is no run

      ARGV[1] the event's body JSON
      ARGV[2] '1' when the event is terminal, else '0'
      ARGV[3] ttl seconds
      ARGV[4] now (ms)
      ARGV[5] the publishing run's token (compared with KEYS[4])

    Output:
      the event's seq; nil when the job already ended; -1 when another run of the job has
      started since (the publisher lost its lock, e.g. across a Redis outage, and must stop).
]]
if redis.call('EXISTS', KEYS[3]) == 1 then return nil end
if KEYS[4] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[5] then return -1 end
if ARGV[2] == '1' then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[3]) end
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('XADD', KEYS[2], '*', 'seq', seq, 'at', ARGV[4], 'body', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
