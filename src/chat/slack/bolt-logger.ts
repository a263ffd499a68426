import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../../ports/logger.ts';

/** Bolt's logger interface over the bot's structured logger (levels are filtered there). */
export function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.DEBUG;
  const write =
    (fn: 'debug' | 'info' | 'warn' | 'error') =>
    (...msg: unknown[]): void => {
      const err = msg.find((m): m is Error => m instanceof Error);
      const words = msg.filter((m) => !(m instanceof Error)).map((m) => (typeof m === 'string' ? m : safeJson(m)));
      log[fn](err ? { err, from: 'bolt' } : { from: 'bolt' }, words.join(' '));
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
