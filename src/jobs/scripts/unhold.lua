--[[
  Takes a held-back job out of the backlog (a cancel before it was admitted).

    Input:
      KEYS[1] the person's backlog
      KEYS[2] the set of every held-back id
      KEYS[3] the job's held record

      ARGV[1] the job's id

    Output:
      1 when the job was still held back, 0 when it had been promoted meanwhile.
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
