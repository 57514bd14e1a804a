/**
 * Bolt, the Web API client and the Socket Mode client log through this: their lines go to our pino
 * logger (which cuts configured secrets out of every line), at warn and above unless asked for more.
 */
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../../src/log.js';

const ORDER: LogLevel[] = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];

export function boltLogger(log: Logger, level: LogLevel = LogLevel.WARN): SlackLogger {
  let current = level;
  let name = 'bolt';
  const at = (lineLevel: LogLevel, write: (text: string) => void) => (...msg: unknown[]) => {
    if (ORDER.indexOf(lineLevel) < ORDER.indexOf(current)) return;
    write(msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' '));
  };
  return {
    debug: at(LogLevel.DEBUG, (text) => log.debug({ source: name }, text)),
    info: at(LogLevel.INFO, (text) => log.info({ source: name }, text)),
    warn: at(LogLevel.WARN, (text) => log.warn({ source: name }, text)),
    error: at(LogLevel.ERROR, (text) => log.error({ source: name }, text)),
    setLevel: (next) => {
      current = next;
    },
    getLevel: () => current,
    setName: (next) => {
      name = next;
    },
  };
}
