import type { Logger } from '../../src/ports/logger.ts';

/** A logger that keeps every line as the JSON pino would write, so tests can read and grep it. */
export function recordingLogger(): { log: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const make = (bindings: object): Logger => {
    const write = (level: string) => (fields: object, message?: string) => {
      lines.push(JSON.stringify({ level, ...bindings, ...fields, msg: message }, (_key, value: unknown) => (value instanceof Error ? { ...value, message: value.message, stack: value.stack } : value)));
    };
    return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: (more) => make({ ...bindings, ...more }) };
  };
  return { log: make({}), lines, text: () => lines.join('\n') };
}
