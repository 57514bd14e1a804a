--[[
  Undoes a conversation thread's newest edit and keeps the thread alive for another TTL. Allowed
  to the thread's owner, to whoever made that newest edit (its entry's `by`), and to an admin
  (src/edits/rules.ts states the same rule); a thread with no recorded owner (written before
  owners were) stays open to everyone.

    Input:
      KEYS[1] the thread's list of edits (newest first, JSON entries with `by` since it was recorded)
      KEYS[2] the thread's origin (a blob ref)
      KEYS[3] the thread's owner (a user id)

      ARGV[1] the user who asks
      ARGV[2] '1' when the user is an admin, else '0'
      ARGV[3] ttl seconds

    Output:
      { 0, owner, author of the newest edit or '' } when refused;
      else { 1, origin or '', the remaining entries newest first }.
]]
local owner = redis.call('GET', KEYS[3])
local newest = redis.call('LINDEX', KEYS[1], 0)
local author = ''
if newest then
  local ok, entry = pcall(cjson.decode, newest)
  if ok and type(entry) == 'table' and type(entry.by) == 'string' then author = entry.by end
end
if owner and owner ~= ARGV[1] and author ~= ARGV[1] and ARGV[2] ~= '1' then return {0, owner, author} end
redis.call('LPOP', KEYS[1])
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[3]) end
return {1, redis.call('GET', KEYS[2]) or '', redis.call('LRANGE', KEYS[1], 0, -1)}
