import { execa } from 'execa';
import { once } from 'node:events';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Clock } from '../../ports/clock.ts';
import { silentLogger, type Logger } from '../../ports/logger.ts';
import { safeAccount, safeAddress, safeName, safePath, safePlaybook, toExtraVarsJson, type ExtraVars } from './safe-vars.ts';

/** What to tell an operator when ansible-playbook is not there. */
export const INSTALL_HINT = 'apt-get install --no-install-recommends ansible-core';

/** ansible-playbook could not be started: not installed, or not where the configuration says. */
export class AnsibleMissingError extends Error {
  override readonly name = 'AnsibleMissingError';
  constructor(command: string, cause?: unknown) {
    super(`ansible-playbook is not installed (could not run "${command}"). Install it with: ${INSTALL_HINT}`, { cause });
  }
}

/** A run that was stopped before it finished: by its timeout, or by its caller's signal. */
export class AnsibleRunError extends Error {
  override readonly name = 'AnsibleRunError';
  constructor(
    message: string,
    readonly reason: 'timeout' | 'cancelled',
    /** The run's log, when it had started. */
    readonly logFile: string | undefined,
    /** The task running when it was stopped. */
    readonly task: string | undefined,
  ) {
    super(message);
  }
}

/** Where a play runs: a VM over SSH, or this machine (a sandbox under `daaas_root`). */
export type RunTarget =
  | { kind: 'local' }
  | { kind: 'ssh'; address: string; user?: string; port?: number; privateKeyFile?: string };

export interface RunRequest {
  /** A playbook file in the Ansible directory, e.g. `provision.yml`. */
  playbook: string;
  /** The VM: names the inventory host and the log file. */
  vm: string;
  target: RunTarget;
  vars: ExtraVars;
  /** Overrides the runner's default timeout; counted from the start of the process. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

export interface TaskResult {
  host: string;
  /** As Ansible names it, `role : task` inside a role. */
  task: string;
  role?: string;
  status: TaskStatus;
  msg?: string;
  rc?: number;
  /** A failure the play tolerates (`ignore_errors`). */
  ignored?: boolean;
}

export interface HostStats {
  ok: number;
  changed: number;
  failures: number;
  unreachable: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

export interface RunResult {
  playbook: string;
  vm: string;
  /** The play finished without a failed or unreachable host. */
  ok: boolean;
  exitCode: number;
  tasks: TaskResult[];
  stats: Record<string, HostStats>;
  /** What the play reported with `set_stats`, as Ansible groups it (`_run` when not per host). */
  custom: Record<string, unknown>;
  /** The first failure that stopped the play, if any. */
  failed?: TaskResult;
  /** The end of what Ansible wrote to stderr: its own errors (a bad playbook, say) are there. */
  errorOutput: string;
  logFile: string;
  durationMs: number;
}

export interface LogTail {
  file: string;
  lines: string[];
}

export interface AnsibleRunnerOptions {
  /** The directory with ansible.cfg and the playbooks. */
  ansibleDir: string;
  /** One log file per run is kept here. */
  logDir: string;
  clock: Clock;
  log?: Logger;
  /** Default per-run timeout. */
  timeoutMs: number;
  /** Runs at once; more wait their turn. */
  maxConcurrent: number;
  /** The ansible-playbook executable (a name on PATH or a path). */
  command?: string;
  /** Check SSH host keys (new VMs have new keys; off unless the cloud publishes them). */
  hostKeyChecking?: boolean;
  /** How long a stopped run gets between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** More environment for ansible-playbook (e.g. ANSIBLE_PRIVATE_KEY_FILE). */
  env?: Record<string, string>;
}

const STDERR_TAIL_CHARS = 4_000;

/**
 * Runs ansible-playbook: no shell, variables in a JSON file, a generated inventory per run, a
 * timeout and cancellation that end the whole process group (Ansible forks workers, and a task's
 * command runs under them), a cap on concurrent runs, results parsed from the daaas_jsonl
 * callback, and a log file per run.
 */
export class AnsibleRunner {
  private readonly command: string;
  private readonly log: Logger;
  private readonly lastLogs = new Map<string, string>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private logSeq = 0;

  constructor(private readonly options: AnsibleRunnerOptions) {
    if (!(options.maxConcurrent >= 1)) throw new Error(`maxConcurrent must be at least 1, not ${options.maxConcurrent}`);
    if (!(options.timeoutMs > 0)) throw new Error(`timeoutMs must be positive, not ${options.timeoutMs}`);
    this.command = options.command ?? 'ansible-playbook';
    this.log = options.log ?? silentLogger;
  }

  /** The directory with ansible.cfg, the playbooks and roles. */
  get ansibleDir(): string {
    return this.options.ansibleDir;
  }

  /** Runs now. */
  get running(): number {
    return this.active;
  }

  /** Wait for a free slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** The installed version; rejects with AnsibleMissingError (saying what to install) if there is none. */
  async check(): Promise<string> {
    const result = await execa(this.command, ['--version'], { reject: false, stdin: 'ignore', env: this.env(), timeout: 60_000 });
    if (result.failed && (result as { code?: string }).code === 'ENOENT') throw new AnsibleMissingError(this.command, result);
    if (result.exitCode !== 0) throw new Error(`"${this.command} --version" failed: ${String(result.stderr || result.stdout).slice(0, 500)}`);
    const version = /\[core ([^\]]+)\]/.exec(String(result.stdout))?.[1] ?? /(\d+\.\d+[^\s]*)/.exec(String(result.stdout))?.[1];
    return version ?? String(result.stdout).split('\n')[0] ?? '';
  }

  /** `ansible-playbook --syntax-check`: resolves with whether it passed and what Ansible said. */
  async syntaxCheck(playbook: string): Promise<{ ok: boolean; output: string }> {
    safePlaybook(playbook);
    const result = await execa(this.command, ['--syntax-check', '-i', 'localhost,', playbook], {
      cwd: this.options.ansibleDir,
      env: this.env(),
      reject: false,
      stdin: 'ignore',
      all: true,
      timeout: 120_000,
    });
    if (result.failed && (result as { code?: string }).code === 'ENOENT') throw new AnsibleMissingError(this.command, result);
    return { ok: result.exitCode === 0, output: String(result.all ?? '') };
  }

  /**
   * Runs a playbook. Resolves with the structured result whether the play succeeded or failed;
   * rejects with AnsibleRunError when the run timed out or was cancelled, with UnsafeInputError
   * (before anything is written or started) for input that is not allowed, and with
   * AnsibleMissingError when ansible-playbook is not installed.
   */
  async run(request: RunRequest): Promise<RunResult> {
    const playbook = safePlaybook(request.playbook);
    const vm = safeName(request.vm, 'vm name');
    const inventory = inventoryFor(vm, request.target);
    const varsJson = toExtraVarsJson(request.vars);
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const signal = request.signal;

    if (signal?.aborted) throw new AnsibleRunError(`${playbook} on ${vm} was cancelled before it started`, 'cancelled', undefined, undefined);
    await this.acquire(signal, `${playbook} on ${vm}`);
    try {
      return await this.execute(playbook, vm, inventory, varsJson, timeoutMs, signal);
    } finally {
      this.releaseSlot();
    }
  }

  /** The end of the last run's log for a VM (this process's runs first, else the newest file). */
  async lastLog(vmName: string, maxLines = 40): Promise<LogTail | undefined> {
    const vm = safeName(vmName, 'vm name');
    let file = this.lastLogs.get(vm);
    if (!file) {
      const names = existsSync(this.options.logDir) ? (await readdir(this.options.logDir)).filter((n) => n.startsWith(`${vm}--`) && LOG_NAME.test(n.slice(vm.length))) : [];
      const newest = names.sort().at(-1);
      if (!newest) return undefined;
      file = join(this.options.logDir, newest);
    }
    return { file, lines: await tailLines(file, maxLines) };
  }

  private async execute(playbook: string, vm: string, inventory: object, varsJson: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<RunResult> {
    const clock = this.options.clock;
    const startedAt = clock.now();
    const work = await mkdtemp(join(tmpdir(), 'daaas-ansible-'));
    try {
      return await this.executeIn(work, playbook, vm, inventory, varsJson, timeoutMs, signal, startedAt);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async executeIn(
    work: string,
    playbook: string,
    vm: string,
    inventory: object,
    varsJson: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    startedAt: number,
  ): Promise<RunResult> {
    const clock = this.options.clock;
    const varsFile = join(work, 'vars.json');
    // JSON is YAML: the yaml inventory plugin reads it.
    const inventoryFile = join(work, 'inventory.yml');
    await writeFile(varsFile, varsJson, { mode: 0o600 });
    await writeFile(inventoryFile, JSON.stringify(inventory), { mode: 0o600 });

    const logFile = await this.openLogFile(vm, playbook, startedAt);
    this.lastLogs.set(vm, logFile);
    const out = createWriteStream(logFile, { flags: 'a' });
    const write = (line: string) => out.write(`${stamp(clock.now())} ${line}\n`);
    const args = ['-i', inventoryFile, '-e', `@${varsFile}`, playbook];
    write(`start ${playbook} on ${vm} (timeout ${Math.round(timeoutMs / 1000)} s)`);
    write(`vars ${JSON.stringify(JSON.parse(varsJson, (_k, v: unknown) => (isUnsafeWrapper(v) ? v.__ansible_unsafe : v)))}`);
    this.log.info({ vm, playbook }, 'ansible-playbook started');

    const tasks: TaskResult[] = [];
    let stats: Record<string, HostStats> = {};
    let custom: Record<string, unknown> = {};
    let currentTask: string | undefined;
    let stderrTail = '';

    const subprocess = execa(this.command, args, {
      cwd: this.options.ansibleDir,
      env: this.env(work),
      // Its own process group, so a stop ends its workers and their commands too.
      detached: true,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      cleanup: false,
    });
    const pid = subprocess.pid;
    if (pid !== undefined) liveGroups.add(pid);

    let stopped: { reason: 'timeout' | 'cancelled'; task: string | undefined } | undefined;
    const stopTimer = new AbortController();
    const stop = (reason: 'timeout' | 'cancelled') => {
      if (stopped || pid === undefined) return;
      stopped = { reason, task: currentTask };
      write(`stopping: ${reason === 'timeout' ? `timed out after ${seconds(timeoutMs)} s` : 'cancelled'}`);
      killGroup(pid, 'SIGTERM');
      clock.sleep(this.options.killGraceMs ?? 5_000, stopTimer.signal).then(
        () => killGroup(pid, 'SIGKILL'),
        () => {},
      );
    };
    clock.sleep(timeoutMs, stopTimer.signal).then(
      () => stop('timeout'),
      () => {},
    );
    const onAbort = () => stop('cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });

    const stdoutDone = subprocess.stdout
      ? consumeLines(subprocess.stdout, (line) => {
          const event = parseEvent(line);
          if (!event) {
            write(`| ${line}`);
            return;
          }
          switch (event.event) {
            case 'task_start':
              currentTask = str(event.task);
              write(`TASK ${currentTask}${event.handler ? ' (handler)' : ''}`);
              break;
            case 'result': {
              const result = toTaskResult(event);
              tasks.push(result);
              write(`${result.status.toUpperCase()}${result.ignored ? ' (ignored)' : ''} [${result.host}] ${result.task}${result.msg ? `: ${result.msg}` : ''}`);
              break;
            }
            case 'stats':
              stats = (event.hosts as Record<string, HostStats>) ?? {};
              custom = (event.custom as Record<string, unknown>) ?? {};
              write(`RECAP ${Object.entries(stats).map(([h, s]) => `${h} ok=${s.ok} changed=${s.changed} failed=${s.failures} unreachable=${s.unreachable} skipped=${s.skipped} rescued=${s.rescued}`).join('; ')}`);
              break;
            case 'play_start':
              write(`PLAY ${str(event.play)}`);
              break;
            default:
              write(`| ${line}`);
          }
        })
      : Promise.resolve();
    const stderrDone = subprocess.stderr
      ? consumeLines(subprocess.stderr, (line) => {
          write(`stderr| ${line}`);
          stderrTail = (stderrTail + line + '\n').slice(-STDERR_TAIL_CHARS);
        })
      : Promise.resolve();

    const result = await subprocess;
    await Promise.all([stdoutDone, stderrDone]);
    stopTimer.abort();
    signal?.removeEventListener('abort', onAbort);
    if (pid !== undefined) liveGroups.delete(pid);
    const durationMs = clock.now() - startedAt;

    if (result.failed && (result as { code?: string }).code === 'ENOENT') {
      write(`could not start ${this.command}: not installed`);
      await closeStream(out);
      throw new AnsibleMissingError(this.command, result);
    }

    if (stopped) {
      const during = stopped.task ? ` during task "${stopped.task}"` : '';
      const message =
        stopped.reason === 'timeout'
          ? `${playbook} on ${vm} timed out after ${seconds(timeoutMs)} s${during}`
          : `${playbook} on ${vm} was cancelled${during}`;
      write(`end: ${message}`);
      await closeStream(out);
      this.log.warn({ vm, playbook, durationMs, logFile }, message);
      throw new AnsibleRunError(message, stopped.reason, logFile, stopped.task);
    }

    const exitCode = result.exitCode ?? -1;
    const failed = tasks.find((t) => (t.status === 'failed' && !t.ignored) || t.status === 'unreachable');
    const ok = exitCode === 0 && !failed;
    write(`end: exit ${exitCode}, ${ok ? 'succeeded' : 'FAILED'} in ${seconds(durationMs)} s`);
    await closeStream(out);
    this.log[ok ? 'info' : 'warn']({ vm, playbook, exitCode, durationMs, failedTask: failed?.task, logFile }, ok ? 'ansible-playbook succeeded' : 'ansible-playbook failed');
    return {
      playbook,
      vm,
      ok,
      exitCode,
      tasks,
      stats,
      custom,
      ...(failed ? { failed } : {}),
      errorOutput: stderrTail.trim(),
      logFile,
      durationMs,
    };
  }

  private env(work?: string): Record<string, string> {
    return {
      ...this.options.env,
      ANSIBLE_CONFIG: join(this.options.ansibleDir, 'ansible.cfg'),
      ANSIBLE_STDOUT_CALLBACK: 'daaas_jsonl',
      ANSIBLE_HOST_KEY_CHECKING: this.options.hostKeyChecking === false ? 'False' : 'True',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      // ansible-core refuses to run without a UTF-8 locale.
      LC_ALL: 'C.UTF-8',
      LANG: 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
      ...(work ? { ANSIBLE_LOCAL_TEMP: join(work, 'tmp') } : {}),
    };
  }

  /** `<vm>--<UTC time>--<playbook>.log`: sorts by time within a VM. */
  private async openLogFile(vm: string, playbook: string, at: number): Promise<string> {
    await mkdir(this.options.logDir, { recursive: true });
    const base = `${vm}--${compactStamp(at)}`;
    const stem = playbook.replace(/\.ya?ml$/, '');
    for (;;) {
      const n = this.logSeq++ % 1000;
      // The sequence number keeps two runs in one millisecond apart and in order.
      const file = join(this.options.logDir, `${base}-${String(n).padStart(3, '0')}--${stem}.log`);
      try {
        const handle = await open(file, 'wx');
        await handle.close();
        return file;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }

  private acquire(signal: AbortSignal | undefined, what: string): Promise<void> {
    if (this.active < this.options.maxConcurrent) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new AnsibleRunError(`${what} was cancelled before it started (waiting for a free slot)`, 'cancelled', undefined, undefined));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private releaseSlot(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

function inventoryFor(vm: string, target: RunTarget): object {
  let hostVars: Record<string, string | number>;
  if (target.kind === 'local') {
    // The controller's own Python: no interpreter discovery on this machine.
    hostVars = { ansible_connection: 'local', ansible_python_interpreter: '{{ ansible_playbook_python }}' };
  } else if (target.kind === 'ssh') {
    hostVars = { ansible_host: safeAddress(target.address, 'VM address') };
    if (target.user !== undefined) hostVars.ansible_user = safeAccount(target.user, 'SSH user');
    if (target.port !== undefined) {
      if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) throw new Error(`SSH port ${target.port} is not a port number`);
      hostVars.ansible_port = target.port;
    }
    if (target.privateKeyFile !== undefined) hostVars.ansible_ssh_private_key_file = safePath(target.privateKeyFile, 'SSH private key file');
  } else {
    throw new Error(`unknown target ${JSON.stringify(target)}`);
  }
  return { all: { hosts: { [vm]: hostVars } } };
}

type Event = Record<string, unknown> & { event: string };

function parseEvent(line: string): Event | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as Event).event === 'string' ? (value as Event) : undefined;
  } catch {
    return undefined;
  }
}

const STATUSES: readonly TaskStatus[] = ['ok', 'changed', 'failed', 'skipped', 'unreachable'];

function toTaskResult(event: Event): TaskResult {
  const status = STATUSES.includes(event.status as TaskStatus) ? (event.status as TaskStatus) : 'failed';
  return {
    host: str(event.host),
    task: str(event.task),
    status,
    ...(typeof event.role === 'string' ? { role: event.role } : {}),
    ...(typeof event.msg === 'string' ? { msg: event.msg } : {}),
    ...(typeof event.rc === 'number' ? { rc: event.rc } : {}),
    ...(event.ignored === true ? { ignored: true } : {}),
  };
}

const str = (value: unknown): string => (typeof value === 'string' ? value : String(value ?? ''));

function isUnsafeWrapper(value: unknown): value is { __ansible_unsafe: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && '__ansible_unsafe' in value;
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

async function closeStream(stream: WriteStream): Promise<void> {
  stream.end();
  if (!stream.closed) await once(stream, 'close');
}

async function tailLines(file: string, maxLines: number): Promise<string[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 256 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    // A partial first line from reading mid-file is dropped.
    if (length < size) lines.shift();
    return lines.slice(-maxLines);
  } finally {
    await handle.close();
  }
}

/** What follows the VM name in a log file's name. */
const LOG_NAME = /^--\d{8}T\d{6}\.\d{3}Z-\d{3}--[a-z0-9_-]+\.log$/;
const seconds = (ms: number) => Math.round(ms / 100) / 10;
const stamp = (at: number) => new Date(at).toISOString();
const compactStamp = (at: number) => stamp(at).replace(/[-:]/g, '');
