import { readFileSync } from 'node:fs';
import type { ActivityProbe, ActivityReport, ProbeRequest, SessionKind } from '../ports/activity.ts';
import type { Clock } from '../ports/clock.ts';

/**
 * What a simulated VM is doing, scripted per VM name: `idle` (the default), a `session` open,
 * a `busy` job, a probe that `fails` or `hangs` (until its timeout). `files` are changed
 * outside the home, counted as unsaved work.
 */
export interface ScriptedActivity {
  state: 'idle' | 'session' | 'busy' | 'fails' | 'hangs';
  /** The busy job: command, CPU % and when it started (default: the claim). */
  job?: { command: string; cpuPercent: number; startedAt?: number; gpu?: boolean };
  session?: SessionKind;
  files?: { path: string; bytes: number }[];
}

export interface SimActivityOptions {
  clock: Clock;
  /**
   * A JSON file `{ "<vm name>": ScriptedActivity, … }` read at every probe, so a newcomer can
   * script the embedded default's VMs while the bot runs; missing or unreadable: all idle.
   */
  file?: string;
}

/** The ActivityProbe of the embedded default: reports what was scripted, as activity.yml would. */
export class SimActivityProbe implements ActivityProbe {
  private readonly scripts = new Map<string, ScriptedActivity>();
  /** Probes made, per VM: for tests. */
  readonly probes: string[] = [];

  constructor(private readonly options: SimActivityOptions) {}

  /** Scripts a VM (overrides the file). */
  set(vmName: string, activity: ScriptedActivity): void {
    this.scripts.set(vmName, activity);
  }

  async probe(request: ProbeRequest): Promise<ActivityReport> {
    const { lease, signal } = request;
    this.probes.push(lease.vm.name);
    const script = this.scripts.get(lease.vm.name) ?? this.fromFile(lease.vm.name) ?? { state: 'idle' };
    if (script.state === 'fails') throw new Error(`${lease.vm.name} did not answer (simulated)`);
    if (script.state === 'hangs') {
      await new Promise<void>((_resolve, reject) => {
        const stop = () => reject(new Error(`probe of ${lease.vm.name} stopped: ${String(signal.reason ?? 'aborted')}`));
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
    }
    const now = this.options.clock.now();
    const files = (script.files ?? []).filter((f) => request.paths.some((p) => f.path === p || f.path.startsWith(`${p.replace(/\/$/, '')}/`)));
    const largest = [...files].sort((a, b) => b.bytes - a.bytes).slice(0, 10).map((f) => ({ ...f, modifiedAt: now }));
    const job = script.job ?? { command: 'python', cpuPercent: 100 };
    return {
      at: now,
      sessions: script.state === 'session' || script.state === 'busy' ? [{ user: lease.user, kind: script.session ?? 'ssh', since: lease.claimedAt }] : [],
      busy: script.state === 'busy' ? [{ pid: 4242, command: job.command, elapsedMs: now - (job.startedAt ?? lease.claimedAt), cpuPercent: job.cpuPercent, gpu: job.gpu ?? false }] : [],
      load: script.state === 'busy' ? [job.cpuPercent / 100, job.cpuPercent / 100, job.cpuPercent / 100] : [0, 0, 0],
      gpuPercent: request.pool.gpu ? [script.state === 'busy' && job.gpu ? 90 : 0] : [],
      files: { count: files.length, bytes: files.reduce((s, f) => s + f.bytes, 0), largest, newest: largest.slice(0, 10), truncated: false },
    };
  }

  private fromFile(vmName: string): ScriptedActivity | undefined {
    if (!this.options.file) return undefined;
    let all: unknown;
    try {
      all = JSON.parse(readFileSync(this.options.file, 'utf8'));
    } catch {
      return undefined;
    }
    const entry = (all as Record<string, unknown> | null)?.[vmName];
    if (!entry || typeof entry !== 'object') return undefined;
    const state = (entry as { state?: unknown }).state;
    return ['idle', 'session', 'busy', 'fails', 'hangs'].includes(state as string) ? (entry as ScriptedActivity) : undefined;
  }
}
