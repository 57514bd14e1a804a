--[[
  Undoes a conversation thread's newest edit and keeps the thread alive for another TTL. Refused
  like set-origin.lua for anyone but the owner or an admin; a thread with no recorded owner
  (written before owners were) stays open to everyone.

    Input:
      KEYS[1] the thread's list of edits (newest first)
      KEYS[2] the thread's origin (a blob ref)
      KEYS[3] the thread's owner (a user id)

      ARGV[1] the user who asks
      ARGV[2] '1' when the user is an admin, else '0'
      ARGV[3] ttl seconds

    Output:
      { 0, owner } when refused; else { 1, origin or '', the remaining entries newest first }.
]]
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= ARGV[1] and ARGV[2] ~= '1' then return {0, owner} end
redis.call('LPOP', KEYS[1])
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[3]) end
return {1, redis.call('GET', KEYS[2]) or '', redis.call('LRANGE', KEYS[1], 0, -1)}
