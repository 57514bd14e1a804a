--[[
  Takes one call from a shared per-minute budget (a platform's rate limit over every process of
  the bot): a sliding window of the calls made in the last window. Calls that must not wait
  (a status's final state) may use the whole budget; others leave `reserve` calls for them.

    Input:
      KEYS[1] the window (a sorted set of call ids, scored by when, in ms)

      ARGV[1] now (ms)
      ARGV[2] the window's length (ms)
      ARGV[3] calls allowed in a window
      ARGV[4] calls kept back for urgent ones ('0' for an urgent call)
      ARGV[5] this call's id (unique)

    Output:
      0 when the call may go now (and it is counted); else how many ms until it may.
]]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local allowed = tonumber(ARGV[3]) - tonumber(ARGV[4])
if used < allowed then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
-- The oldest call that must leave the window before this one fits.
local oldest = redis.call('ZRANGE', KEYS[1], used - allowed, used - allowed, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
