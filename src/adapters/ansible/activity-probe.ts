import type { ActivityProbe, ActivityReport, ActivitySession, BusyProcess, ChangedFile, ProbeRequest, SessionKind } from '../../ports/activity.ts';
import type { AnsibleRunner, JumpHost, RunResult, RunTarget } from './ansible-runner.ts';
import { safeAccount, safeAddress, safeExtraVars, safeName, safePath, type ExtraVars, type VarValue } from './safe-vars.ts';

export interface AnsibleActivityProbeOptions {
  runner: AnsibleRunner;
  /** As the provisioner's: `address` over SSH with the VM's pinned key, `local` a sandbox here. */
  target: 'address' | 'local';
  ssh?: { user: string; port?: number; privateKeyFile?: string; connectTimeoutS?: number; jumpHost?: JumpHost };
  /** Site variables (daaas_root for a sandbox, activity_home_store, activity_busy_cpu…); literal values. */
  extraVars?: ExtraVars;
  /** A probe that takes longer is stopped, and its VM's activity is unknown. */
  timeoutMs?: number;
}

/** A probe that ran and failed, or reported nothing readable. */
export class ActivityProbeError extends Error {
  override readonly name = 'ActivityProbeError';
}

/** The ActivityProbe port on Ansible: runs activity.yml (read-only) and reads its set_stats. */
export class AnsibleActivityProbe implements ActivityProbe {
  private readonly extraVars: ExtraVars;

  constructor(private readonly options: AnsibleActivityProbeOptions) {
    this.extraVars = safeExtraVars(options.extraVars ?? {}, 'activity probe extraVars');
    if (options.target === 'address' && !options.ssh?.user) throw new Error('the Ansible activity probe needs ssh.user to reach VMs at their address');
  }

  async probe(request: ProbeRequest): Promise<ActivityReport> {
    const { lease, pool } = request;
    const vm = lease.vm;
    const name = safeName(vm.name, 'vm name');
    let target: RunTarget;
    if (this.options.target === 'local') target = { kind: 'local' };
    else {
      if (vm.address === null) throw new ActivityProbeError(`${name} has no address, so activity.yml cannot reach it`);
      target = { kind: 'ssh', address: safeAddress(vm.address, 'VM address'), ...this.options.ssh, hostKey: vm.hostKey ?? null };
    }
    const vars: Record<string, VarValue> = {
      ...this.extraVars,
      daaas_vm_name: name,
      daaas_pool: safeName(pool.name, 'pool name'),
      daaas_gpu: pool.gpu,
      daaas_account: safeAccount(lease.user, 'holder account'),
      activity_since: Math.floor(lease.claimedAt / 1000),
      activity_paths: request.paths.map((p) => safePath(p, 'activity path')),
    };
    const result = await this.options.runner.run({
      playbook: 'activity.yml',
      vm: name,
      target,
      vars,
      signal: request.signal,
      ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
    });
    return readActivity(result);
  }
}

/** The report activity.yml gave with set_stats, checked field by field. */
export function readActivity(result: RunResult): ActivityReport {
  if (!result.ok) {
    const f = result.failed;
    const why = f ? `${f.status === 'unreachable' ? 'unreachable' : 'failed'} at "${f.task}"${f.msg ? `: ${f.msg.slice(0, 300)}` : ''}` : `exit ${result.exitCode}${result.errorOutput ? `: ${result.errorOutput.slice(0, 300)}` : ''}`;
    throw new ActivityProbeError(`activity.yml on ${result.vm} ${why}`);
  }
  const raw = (result.custom._run as Record<string, unknown> | undefined)?.daaas_activity;
  if (!isObject(raw)) throw new ActivityProbeError(`activity.yml on ${result.vm} succeeded but reported nothing (set_stats daaas_activity)`);
  const files = isObject(raw.files) ? raw.files : {};
  const load = list(raw.load).map(num);
  return {
    at: num(raw.at),
    sessions: list(raw.sessions).filter(isObject).map(session),
    busy: list(raw.busy).filter(isObject).map(busy),
    load: [load[0] ?? 0, load[1] ?? 0, load[2] ?? 0],
    gpuPercent: list(raw.gpu_percent).map(num),
    files: {
      count: num(files.count),
      bytes: num(files.bytes),
      largest: list(files.largest).filter(isObject).map(file),
      newest: list(files.newest).filter(isObject).map(file),
      truncated: files.truncated === true,
    },
  };
}

const KINDS: readonly SessionKind[] = ['ssh', 'remote-desktop', 'console'];

function session(r: Record<string, unknown>): ActivitySession {
  const kind = KINDS.includes(r.kind as SessionKind) ? (r.kind as SessionKind) : 'console';
  return { user: String(r.user ?? ''), kind, since: num(r.since), ...(typeof r.from === 'string' && r.from ? { from: r.from } : {}) };
}

function busy(r: Record<string, unknown>): BusyProcess {
  return { pid: num(r.pid), command: String(r.command ?? '?'), elapsedMs: num(r.elapsed_ms), cpuPercent: num(r.cpu_percent), gpu: r.gpu === true };
}

function file(r: Record<string, unknown>): ChangedFile {
  return { path: String(r.path ?? ''), bytes: num(r.bytes), modifiedAt: num(r.modified_at) };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
function num(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : 0;
}
