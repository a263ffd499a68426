import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

export interface BotProcess {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/**
 * The bot as `npm start` runs it, as a child process on a free port; killed when the test ends.
 * `env` is added to this process's environment, less the variables named in `without`.
 */
export function startBot(t: { teardown: (fn: () => void) => void }, env: Record<string, string>, args: string[] = [], without: RegExp | null = null): BotProcess {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !without?.test(key)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...inherited, DAAAS_PORT: '0', ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Waits until `check` holds; generous, as machines running the tests are shared and busy. */
export async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}
