/**
 * Whether a claimed VM is in use: who is logged in, what of its holder's is running, and what
 * they changed outside their persistent home. Asked by the activity monitor every so often and
 * before the last reminder and teardown; a probe that fails is "unknown", never "idle".
 */
import type { LeaseView, PoolSpec } from '../core/model.ts';

export type SessionKind = 'ssh' | 'remote-desktop' | 'console';

export interface ActivitySession {
  user: string;
  kind: SessionKind;
  /** Epoch ms the session began. */
  since: number;
  /** Where from (an address), when known. */
  from?: string;
}

/** One of the holder's processes using CPU or a GPU now. */
export interface BusyProcess {
  pid: number;
  /** The command's name (`python`), not its arguments. */
  command: string;
  elapsedMs: number;
  /** CPU use over the probe's sample, in percent of one core (390 = almost four cores). */
  cpuPercent: number;
  /** It holds a GPU. */
  gpu: boolean;
}

export interface ChangedFile {
  path: string;
  bytes: number;
  /** Epoch ms of the last change. */
  modifiedAt: number;
}

/** The holder's files changed during the lease outside the persistent home. */
export interface ChangedFiles {
  /** How many and how large in all. */
  count: number;
  bytes: number;
  /** The largest of them, largest first (a few). */
  largest: ChangedFile[];
  /** The newest of them, newest first (a few). */
  newest: ChangedFile[];
  /** The walk stopped at its limit: the totals are at least these. */
  truncated: boolean;
}

export interface ActivityReport {
  /** Epoch ms of the probe. */
  at: number;
  sessions: ActivitySession[];
  busy: BusyProcess[];
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number];
  /** Per GPU, percent busy; empty on pools without GPUs. */
  gpuPercent: number[];
  files: ChangedFiles;
}

export type ProbeResult = { ok: true; report: ActivityReport } | { ok: false; at: number; error: string };

export interface ProbeRequest {
  lease: LeaseView;
  pool: PoolSpec;
  /** Paths (outside the persistent home) whose changed files count as unsaved work. */
  paths: readonly string[];
  signal: AbortSignal;
}

/** The port. Rejects (or resolves `ok: false`) when the VM could not be asked. */
export interface ActivityProbe {
  probe(request: ProbeRequest): Promise<ActivityReport>;
}

/** What the store keeps of a lease's activity: the latest probe, the idle run, the prompt, the grace. */
export interface LeaseActivity {
  leaseId: string;
  pool: string;
  /** The latest probe, successful or not. */
  lastProbeAt: number | null;
  /** The latest successful probe's report (null when none succeeded). */
  lastReport: ActivityReport | null;
  /** The latest probe failed or timed out: the VM's state is unknown. */
  lastError: string | null;
  /** Start of the current unbroken run of idle probes; null when not idle (or unknown). */
  idleSince: number | null;
  /** Idle time counted so far over the lease (for idle VM-hours). */
  idleMs: number;
  /** The idle prompt sent for the current idle run, if any. */
  promptedAt: number | null;
  /** The holder answered Keep: no prompt before another idle period from then. */
  keptAt: number | null;
  /** The one grace given at expiry: when, and until when. */
  grace: { at: number; until: number; job: string } | null;
}

/** The activity's share of the Store. Every method is atomic and joins an enclosing transaction. */
export interface ActivityStore {
  leaseActivity(leaseId: string): LeaseActivity | undefined;
  /** Activity records of the leases still active. */
  activeLeaseActivity(): LeaseActivity[];
  /** Writes a lease's activity record whole. */
  saveLeaseActivity(activity: LeaseActivity): void;
}
