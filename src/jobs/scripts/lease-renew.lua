--[[
  Extends a lease for its holder; a lease that expired or that another holder took is not theirs.

    Input:
      KEYS[1] the lease (a string: the holder's id)

      ARGV[1] the holder asking
      ARGV[2] the lease's life in milliseconds

    Output:
      1 when renewed, 0 when the lease is not the asker's.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
