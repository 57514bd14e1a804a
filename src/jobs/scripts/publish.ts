/**
 * Appends one event to a job's stream, numbering it in the same step, so stream order and
 * `seq` always agree; a terminal event closes the stream to every later event.
 *
 * KEYS[1] seq counter   KEYS[2] events stream   KEYS[3] terminal marker
 * KEYS[4] the job's current run (its BullMQ lock token), or '' for a publisher that is no run
 * ARGV[1] body JSON   ARGV[2] '1' when terminal   ARGV[3] ttl seconds   ARGV[4] now (ms)
 * ARGV[5] the publishing run's token (with KEYS[4])
 *
 * Returns the seq; nil when the job already ended; -1 when another run of the job has started
 * since (the publisher lost its lock, e.g. across a Redis outage, and must stop).
 */
export const PUBLISH_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return nil end
if KEYS[4] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[5] then return -1 end
if ARGV[2] == '1' then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[3]) end
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('XADD', KEYS[2], '*', 'seq', seq, 'at', ARGV[4], 'body', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
`;
