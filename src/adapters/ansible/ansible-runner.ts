/**
 * Runs one playbook at a time per slot: checks the request, writes its inputs (variables, the
 * inventory from inventory.ts, the VM's pinned key), runs the process (ansible-process.ts),
 * turns its events into a result (ansible-events.ts) and keeps its log (run-logs.ts). The public
 * API of the Ansible adapter: the provisioner and any new play use it through this file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../ports/clock.ts';
import { silentLogger, type Logger } from '../../ports/logger.ts';
import { describeEvent, parseEventLine, PlayReport, type HostStats, type TaskResult } from './ansible-events.ts';
import { AnsibleMissingError, runCommand, runPlaybookProcess, type StopReason } from './ansible-process.ts';
import { knownHostsLine } from './host-keys.ts';
import { HostKeyMissingError, inventoryFor, type RunTarget } from './inventory.ts';
import { RunLogs, type LogTail } from './run-logs.ts';
import { fromExtraVarsJson, safeName, safePlaybook, toExtraVarsJson, type ExtraVars } from './safe-vars.ts';

// The runner's public API, wherever its parts live.
export type { HostStats, TaskResult, TaskStatus } from './ansible-events.ts';
export { AnsibleMissingError, INSTALL_HINT } from './ansible-process.ts';
export { HostKeyMissingError, type JumpHost, type RunTarget, type SshTarget } from './inventory.ts';
export type { LogTail } from './run-logs.ts';

/** A run that was stopped before it finished: by its timeout, or by its caller's signal. */
export class AnsibleRunError extends Error {
  override readonly name = 'AnsibleRunError';
  constructor(
    message: string,
    readonly reason: StopReason,
    /** The run's log, when it had started. */
    readonly logFile: string | undefined,
    /** The task running when it was stopped. */
    readonly task: string | undefined,
  ) {
    super(message);
  }
}

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
  /**
   * Check SSH host keys against the key pinned for each VM (on unless false). Off, any key is
   * accepted and nothing is recorded: only for sites that cannot give VMs their keys.
   */
  hostKeyChecking?: boolean;
  /** How long a stopped run gets between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** More environment for ansible-playbook (e.g. ANSIBLE_PRIVATE_KEY_FILE). */
  env?: Record<string, string>;
  /** How many run logs are kept: per VM (default 10) and in bytes in all (default 200 MiB). */
  runLogs?: { keepPerVm?: number; maxTotalBytes?: number };
}

/** A checked request, ready to run. */
interface Run {
  playbook: string;
  vm: string;
  target: RunTarget;
  varsJson: string;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

const STDERR_TAIL_CHARS = 4_000;

/**
 * Runs ansible-playbook: no shell, variables in a JSON file, a generated inventory per run, a
 * timeout and cancellation that end the whole process group (ansible-process.ts), a cap on
 * concurrent runs, results parsed from the daaas_jsonl callback (ansible-events.ts), and a log
 * file per run (run-logs.ts).
 */
export class AnsibleRunner {
  private readonly command: string;
  private readonly log: Logger;
  private readonly logs: RunLogs;
  private readonly waiting: (() => void)[] = [];
  private active = 0;

  constructor(private readonly options: AnsibleRunnerOptions) {
    if (!(options.maxConcurrent >= 1)) throw new Error(`maxConcurrent must be at least 1, not ${options.maxConcurrent}`);
    if (!(options.timeoutMs > 0)) throw new Error(`timeoutMs must be positive, not ${options.timeoutMs}`);
    this.command = options.command ?? 'ansible-playbook';
    this.log = options.log ?? silentLogger;
    this.logs = new RunLogs({ dir: options.logDir, clock: options.clock, ...options.runLogs });
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
    const result = await runCommand(this.command, ['--version'], { env: this.env(), timeoutMs: 60_000 });
    if (result.exitCode !== 0) throw new Error(`"${this.command} --version" failed: ${(result.stderr || result.stdout).slice(0, 500)}`);
    const version = /\[core ([^\]]+)\]/.exec(result.stdout)?.[1] ?? /(\d+\.\d+[^\s]*)/.exec(result.stdout)?.[1];
    return version ?? result.stdout.split('\n')[0] ?? '';
  }

  /** `ansible-playbook --syntax-check`: resolves with whether it passed and what Ansible said. */
  async syntaxCheck(playbook: string): Promise<{ ok: boolean; output: string }> {
    safePlaybook(playbook);
    const result = await runCommand(this.command, ['--syntax-check', '-i', 'localhost,', playbook], { cwd: this.options.ansibleDir, env: this.env(), timeoutMs: 120_000 });
    return { ok: result.exitCode === 0, output: result.all };
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
    // Checked now, so a bad target is refused before anything is written or started.
    inventoryFor(vm, request.target, '/nonexistent/known_hosts');
    if (request.target.kind === 'ssh' && this.options.hostKeyChecking !== false && !request.target.hostKey) {
      throw new HostKeyMissingError(`${playbook} on ${vm} refused: no host key is pinned for ${vm}, so the machine at ${request.target.address} cannot be told from an impostor (VMs booted by this bot get one; see "Host keys" in ansible/README.md)`);
    }
    const run: Run = {
      playbook,
      vm,
      target: request.target,
      varsJson: toExtraVarsJson(request.vars),
      timeoutMs: request.timeoutMs ?? this.options.timeoutMs,
      signal: request.signal,
    };
    const what = `${run.playbook} on ${run.vm}`;
    if (run.signal?.aborted) throw new AnsibleRunError(`${what} was cancelled before it started`, 'cancelled', undefined, undefined);
    await this.acquire(run.signal, what);
    try {
      const work = await mkdtemp(join(tmpdir(), 'daaas-ansible-'));
      try {
        return await this.execute(run, work);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    } finally {
      this.releaseSlot();
    }
  }

  /** The end of the last run's log for a VM (this process's runs first, else the newest file). */
  lastLog(vmName: string, maxLines = 40): Promise<LogTail | undefined> {
    return this.logs.lastLog(vmName, maxLines);
  }

  /** Resolves when the rotations of old run logs started so far are done. */
  logsRotated(): Promise<void> {
    return this.logs.idle();
  }

  /** One run in its own working directory: writes its inputs, runs the play, reads what it reported. */
  private async execute(run: Run, work: string): Promise<RunResult> {
    const { playbook, vm, timeoutMs } = run;
    const clock = this.options.clock;
    const startedAt = clock.now();
    const varsFile = join(work, 'vars.json');
    // JSON is YAML: the yaml inventory plugin reads it.
    const inventoryFile = join(work, 'inventory.yml');
    const knownHosts = join(work, 'known_hosts');
    await writeFile(varsFile, run.varsJson, { mode: 0o600 });
    await writeFile(inventoryFile, JSON.stringify(inventoryFor(vm, run.target, knownHosts, this.options.hostKeyChecking !== false)), { mode: 0o600 });
    // Only this VM's pinned key: the run's own known_hosts, no other file is consulted.
    if (run.target.kind === 'ssh' && run.target.hostKey) await writeFile(knownHosts, knownHostsLine(run.target.address, run.target.port, run.target.hostKey), { mode: 0o600 });

    const runLog = await this.logs.open(vm, playbook, startedAt);
    runLog.write(`start ${playbook} on ${vm} (timeout ${Math.round(timeoutMs / 1000)} s)`);
    runLog.write(`vars ${JSON.stringify(fromExtraVarsJson(run.varsJson))}`);
    this.log.info({ vm, playbook }, 'ansible-playbook started');

    const report = new PlayReport();
    let stoppedTask: string | undefined;
    let stderrTail = '';
    const outcome = await runPlaybookProcess({
      command: this.command,
      args: ['-i', inventoryFile, '-e', `@${varsFile}`, playbook],
      cwd: this.options.ansibleDir,
      env: this.env(work),
      clock,
      timeoutMs,
      killGraceMs: this.options.killGraceMs ?? 5_000,
      signal: run.signal,
      onStdoutLine: (line) => {
        const event = parseEventLine(line);
        report.add(event);
        runLog.write(describeEvent(event));
      },
      onStderrLine: (line) => {
        runLog.write(`stderr| ${line}`);
        stderrTail = (stderrTail + line + '\n').slice(-STDERR_TAIL_CHARS);
      },
      onStopping: (reason) => {
        stoppedTask = report.currentTask;
        runLog.write(`stopping: ${reason === 'timeout' ? `timed out after ${seconds(timeoutMs)} s` : 'cancelled'}`);
      },
    });
    const durationMs = clock.now() - startedAt;
    const logFile = runLog.file;

    if (outcome.missing) {
      runLog.write(`could not start ${this.command}: not installed`);
      await runLog.close();
      throw new AnsibleMissingError(this.command, outcome.startError);
    }

    if (outcome.stopped) {
      const during = stoppedTask ? ` during task "${stoppedTask}"` : '';
      const message = outcome.stopped === 'timeout' ? `${playbook} on ${vm} timed out after ${seconds(timeoutMs)} s${during}` : `${playbook} on ${vm} was cancelled${during}`;
      runLog.write(`end: ${message}`);
      await runLog.close();
      this.log.warn({ vm, playbook, durationMs, logFile }, message);
      throw new AnsibleRunError(message, outcome.stopped, logFile, stoppedTask);
    }

    const { exitCode } = outcome;
    const failed = report.firstFailure();
    const ok = exitCode === 0 && !failed;
    runLog.write(`end: exit ${exitCode}, ${ok ? 'succeeded' : 'FAILED'} in ${seconds(durationMs)} s`);
    await runLog.close();
    this.log[ok ? 'info' : 'warn']({ vm, playbook, exitCode, durationMs, failedTask: failed?.task, logFile }, ok ? 'ansible-playbook succeeded' : 'ansible-playbook failed');
    return {
      playbook,
      vm,
      ok,
      exitCode,
      tasks: report.tasks,
      stats: report.stats,
      custom: report.custom,
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
      // Each run its own SSH control sockets: a connection checked for one run (one VM, one key)
      // is never reused by another run that reaches the same address.
      ...(work ? { ANSIBLE_LOCAL_TEMP: join(work, 'tmp'), ANSIBLE_SSH_CONTROL_PATH_DIR: join(work, 'cp') } : {}),
    };
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

const seconds = (ms: number) => Math.round(ms / 100) / 10;
