/**
 * The service's Lua scripts, as BullMQ keeps its own: one `.lua` file each beside this module
 * (its header documents KEYS, ARGV and the reply), defined on a connection with ioredis's
 * `defineCommand`. A call then goes out as EVALSHA (ioredis sends EVAL once per socket to load
 * it), and one that meets NOSCRIPT (a restarted or flushed Redis) is sent again as EVAL.
 *
 * Calls name their keys and arguments, in the order of the file's header:
 * `scripts(redis).unhold({ backlog, heldJobs, held }, { jobId })`.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** What a script's argument may be; ioredis sends numbers as their decimal text. */
export type ScriptArg = string | number;

interface ScriptSpec<Key extends string, Arg extends string, Reply> {
  file: string;
  /** KEYS[1], KEYS[2], … */
  keys: readonly Key[];
  /** ARGV[1], ARGV[2], … */
  args: readonly Arg[];
  /** Only carries the reply's type. */
  reply?: Reply;
}

/** A script's spec; `Reply` is what Redis answers, as ioredis hands it over. */
function script<Reply>() {
  return <const Key extends string, const Arg extends string>(file: string, keys: readonly Key[], args: readonly Arg[]): ScriptSpec<Key, Arg, Reply> => ({ file, keys, args });
}

export type AdmitOutcome = 'busy' | 'admitted' | 'refused' | 'held-full' | 'held';

const SPECS = {
  admit: script<[AdmitOutcome, number]>()(
    'admit.lua',
    ['active', 'backlog', 'heldJobs', 'held', 'wait', 'prioritized', 'admitting'],
    ['jobId', 'perUserLimit', 'overLimit', 'job', 'ttlSeconds', 'terminalPrefix', 'maxWaiting', 'now', 'admittingMs', 'maxHeldPerUser'],
  ),
  publish: script<number | null>()('publish.lua', ['seq', 'events', 'terminal', 'runner'], ['body', 'isTerminal', 'ttlSeconds', 'now', 'token']),
  release: script<string | null>()('release.lua', ['active', 'backlog', 'heldJobs', 'admitting'], ['jobId', 'perUserLimit', 'heldPrefix', 'now', 'ttlSeconds']),
  unhold: script<0 | 1>()('unhold.lua', ['backlog', 'heldJobs', 'held'], ['jobId']),
  setOrigin: script<[0 | 1, string]>()('set-origin.lua', ['list', 'origin', 'owner'], ['ref', 'user', 'ttlSeconds', 'isAdmin']),
  rateTake: script<number>()('rate-take.lua', ['window'], ['now', 'windowMs', 'limit', 'reserve', 'call']),
  leaseRenew: script<0 | 1>()('lease-renew.lua', ['lease'], ['holder', 'ttlMs']),
  leaseRelease: script<0 | 1>()('lease-release.lua', ['lease'], ['holder']),
  threadUndo: script<[0, string, string] | [1, string, string[]]>()('thread-undo.lua', ['list', 'origin', 'owner'], ['user', 'isAdmin', 'ttlSeconds']),
  checkPause: script<'paused' | 'already' | 'ended' | 'superseded' | 'cancelled'>()(
    'check-pause.lua',
    ['seq', 'events', 'terminal', 'runner', 'cancel', 'check', 'checking', 'threadChecks'],
    ['token', 'state', 'body', 'ttlSeconds', 'now', 'jobId', 'deadline'],
  ),
  checkUpdate: script<string>()('check-update.lua', ['seq', 'events', 'terminal', 'check'], ['round', 'state', 'body', 'ttlSeconds', 'now']),
  checkSettle: script<['ok', string, string] | [string]>()(
    'check-settle.lua',
    ['check', 'checking', 'threadChecks'],
    ['to', 'from', 'now', 'jobId', 'stageJob', 'deadline'],
  ),
};

type Call<Spec> = Spec extends ScriptSpec<infer Key, infer Arg, infer Reply> ? (keys: Record<Key, string>, args: Record<Arg, ScriptArg>) => Promise<Reply> : never;

/** Every script, callable on one connection. */
export type Scripts = { readonly [Name in keyof typeof SPECS]: Call<(typeof SPECS)[Name]> };

export type ScriptName = keyof typeof SPECS;

const sources = new Map<string, string>();

/** A script's text, read from its file the first time it is asked for. */
export function scriptSource(name: ScriptName): string {
  const { file } = SPECS[name];
  let lua = sources.get(file);
  if (lua === undefined) {
    lua = readFileSync(new URL(file, import.meta.url), 'utf8');
    sources.set(file, lua);
  }
  return lua;
}

const defined = new WeakMap<Redis, Scripts>();

/**
 * The scripts on `redis`, defined on it at the first call for that connection: any connection
 * works (a duplicate, a test's own), and asking again costs nothing.
 */
export function scripts(redis: Redis): Scripts {
  let bound = defined.get(redis);
  if (bound === undefined) {
    bound = define(redis);
    defined.set(redis, bound);
  }
  return bound;
}

function define(redis: Redis): Scripts {
  // Custom commands become methods of the connection; the prefix keeps them off built-in names (PUBLISH).
  const commands = redis as unknown as Record<string, (...args: ScriptArg[]) => Promise<unknown>>;
  const calls = Object.entries(SPECS).map(([name, spec]) => {
    const command = `gas_${name}`;
    redis.defineCommand(command, { lua: scriptSource(name as ScriptName), numberOfKeys: spec.keys.length });
    const call = (keys: Record<string, string>, args: Record<string, ScriptArg>) =>
      commands[command](...spec.keys.map((key) => keys[key]), ...spec.args.map((arg) => args[arg]));
    return [name, call] as const;
  });
  return Object.freeze(Object.fromEntries(calls)) as unknown as Scripts;
}
