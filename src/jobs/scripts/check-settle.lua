--[[
  Moves a check on from where it stands, once: to 'going' (the person said go, before the
  deadline), 'cancelled' or 'expired' (at its deadline, which must be the one asked about). A job
  that leaves 'waiting' stops counting as waiting at its check, in all and in its thread.

    Input:
      KEYS[1] the job's check (a hash)
      KEYS[2] the ids of every job waiting at its check
      KEYS[3] its thread's jobs waiting at their check, or '' for a job in no thread

      ARGV[1] the status to move to: 'going', 'cancelled' or 'expired'
      ARGV[2] the statuses it may move from, comma-separated (e.g. 'waiting')
      ARGV[3] now (ms)
      ARGV[4] the job's id
      ARGV[5] going: the BullMQ id of its edit stage; else ''
      ARGV[6] expired: the deadline the expiry was scheduled for; else ''

    Output:
      { 'ok', round, state JSON } once moved; else { reason }: 'gone' (no check), 'late' (go after
      the deadline), 'not-due' (an expiry for another deadline, or early), or the current status.
]]
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'gone'} end
local allowed = false
for from in string.gmatch(ARGV[2], '[^,]+') do
  if from == status then allowed = true end
end
if not allowed then return {status} end
local deadlineText = redis.call('HGET', KEYS[1], 'deadline')
local deadline = tonumber(deadlineText)
local now = tonumber(ARGV[3])
if ARGV[1] == 'going' and now >= deadline then return {'late'} end
if ARGV[1] == 'expired' and (ARGV[6] ~= deadlineText or now < deadline) then return {'not-due'} end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'stageJob', ARGV[5]) end
if status == 'waiting' then
  redis.call('SREM', KEYS[2], ARGV[4])
  if KEYS[3] ~= '' then redis.call('ZREM', KEYS[3], ARGV[4]) end
end
return {'ok', redis.call('HGET', KEYS[1], 'round'), redis.call('HGET', KEYS[1], 'state')}
