--[[
  Starts a conversation thread from a photo: drops the edits made from the old photo, records the
  new one and, for a thread without one, its owner. Someone else's thread is refused unless an
  admin asks (an admin replacing someone's photo leaves the thread theirs).

    Input:
      KEYS[1] the thread's list of edits
      KEYS[2] the thread's origin (a blob ref)
      KEYS[3] the thread's owner (a user id)

      ARGV[1] the new origin's blob ref
      ARGV[2] the user who asks
      ARGV[3] ttl seconds
      ARGV[4] '1' when the user is an admin, else '0'

    Output:
      { 0, owner } when refused; { 1, owner } once recorded.
]]
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= ARGV[2] and ARGV[4] ~= '1' then return {0, owner} end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
if owner then redis.call('EXPIRE', KEYS[3], ARGV[3]) else redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3]) end
return {1, owner or ARGV[2]}
