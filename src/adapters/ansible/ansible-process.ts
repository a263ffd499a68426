import { execa } from 'execa';
import { createInterface } from 'node:readline';
import type { Clock } from '../../ports/clock.ts';

/** What to tell an operator when ansible-playbook is not there. */
export const INSTALL_HINT = 'apt-get install --no-install-recommends ansible-core';

/** ansible-playbook could not be started: not installed, or not where the configuration says. */
export class AnsibleMissingError extends Error {
  override readonly name = 'AnsibleMissingError';
  constructor(command: string, cause?: unknown) {
    super(`ansible-playbook is not installed (could not run "${command}"). Install it with: ${INSTALL_HINT}`, { cause });
  }
}

export type StopReason = 'timeout' | 'cancelled';

export interface PlaybookProcessOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  clock: Clock;
  /** Counted from the start of the process. */
  timeoutMs: number;
  /** How long a stopped run gets between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Cancels the run. */
  signal?: AbortSignal | undefined;
  onStdoutLine: (line: string) => void;
  onStderrLine: (line: string) => void;
  /** Called once, as a stop begins, before the process group is signalled. */
  onStopping: (reason: StopReason) => void;
}

export interface PlaybookProcessOutcome {
  /** The command could not be started: it is not installed. */
  missing: boolean;
  /** Why it could not be started, when it could not. */
  startError?: unknown;
  exitCode: number;
  /** Set when the run was stopped by its timeout or its signal. */
  stopped?: StopReason;
}

/**
 * Runs one ansible-playbook process to its end, its output read line by line. The process gets a
 * process group of its own, so a stop (timeout or cancellation) ends Ansible's forked workers and
 * the commands their tasks run too: SIGTERM first, SIGKILL after the grace period.
 */
export async function runPlaybookProcess(options: PlaybookProcessOptions): Promise<PlaybookProcessOutcome> {
  const { clock, signal } = options;
  const subprocess = execa(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    // Its own process group, so a stop ends its workers and their commands too.
    detached: true,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cleanup: false,
  });
  const pid = subprocess.pid;
  if (pid !== undefined) liveGroups.add(pid);

  let stopped: StopReason | undefined;
  const timers = new AbortController();
  const stop = (reason: StopReason) => {
    if (stopped || pid === undefined) return;
    stopped = reason;
    options.onStopping(reason);
    killGroup(pid, 'SIGTERM');
    clock.sleep(options.killGraceMs, timers.signal).then(
      () => killGroup(pid, 'SIGKILL'),
      () => {},
    );
  };
  clock.sleep(options.timeoutMs, timers.signal).then(
    () => stop('timeout'),
    () => {},
  );
  const onAbort = () => stop('cancelled');
  signal?.addEventListener('abort', onAbort, { once: true });

  const stdoutDone = subprocess.stdout ? consumeLines(subprocess.stdout, options.onStdoutLine) : Promise.resolve();
  const stderrDone = subprocess.stderr ? consumeLines(subprocess.stderr, options.onStderrLine) : Promise.resolve();
  const result = await subprocess;
  await Promise.all([stdoutDone, stderrDone]);
  timers.abort();
  signal?.removeEventListener('abort', onAbort);
  if (pid !== undefined) liveGroups.delete(pid);

  return {
    missing: isMissing(result),
    ...(isMissing(result) ? { startError: result } : {}),
    exitCode: result.exitCode ?? -1,
    ...(stopped ? { stopped } : {}),
  };
}

export interface CommandOutput {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved. */
  all: string;
}

/** A short command (`--version`, `--syntax-check`) run to its end; rejects with AnsibleMissingError if it is not installed. */
export async function runCommand(command: string, args: readonly string[], options: { cwd?: string; env: Record<string, string>; timeoutMs: number }): Promise<CommandOutput> {
  const result = await execa(command, args, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: options.env,
    reject: false,
    stdin: 'ignore',
    all: true,
    timeout: options.timeoutMs,
  });
  if (isMissing(result)) throw new AnsibleMissingError(command, result);
  return { exitCode: result.exitCode, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), all: String(result.all ?? '') };
}

function isMissing(result: { failed: boolean }): boolean {
  return result.failed && (result as { code?: string }).code === 'ENOENT';
}

async function consumeLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) onLine(line);
}

/** Process groups of runs in flight, ended if the bot itself exits. */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
