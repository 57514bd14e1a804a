--[[
  Gives a lease up, only when the asker holds it (a lease already taken over is left alone).

    Input:
      KEYS[1] the lease (a string: the holder's id)

      ARGV[1] the holder asking

    Output:
      1 when given up, 0 when it was not the asker's.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
