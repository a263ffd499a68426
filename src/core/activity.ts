/**
 * The pure rules of activity: what counts as idle or busy, how a probe updates a lease's
 * record, when the holder is asked about an idle VM, when an idle VM goes back, and whether a
 * busy VM gets its one grace at expiry. A failed probe is "unknown": never idle, never busy.
 */
import type { ActivityReport, BusyProcess, ChangedFiles, LeaseActivity, ProbeResult } from '../ports/activity.ts';
import { formatDuration } from './duration.ts';
import type { LeaseView, PoolSpec } from './model.ts';

export const DEFAULT_IDLE_AFTER_MS = 12 * 3_600_000;
export const DEFAULT_GRACE_WHEN_BUSY_MS = 2 * 3_600_000;
/** GPU use above this (percent) counts as work even when its process is not visible. */
export const GPU_BUSY_PERCENT = 10;

/** A pool's activity rules, its configuration or the defaults. */
export interface ActivityRules {
  idleAfterMs: number;
  /** null: idle VMs are never released by the bot. */
  idleReleaseAfterMs: number | null;
  /** 0: no grace at expiry. */
  graceWhenBusyMs: number;
}

export function rulesOf(pool: PoolSpec): ActivityRules {
  return {
    idleAfterMs: pool.idle?.afterMs ?? DEFAULT_IDLE_AFTER_MS,
    idleReleaseAfterMs: pool.idle?.releaseAfterMs ?? null,
    graceWhenBusyMs: pool.graceWhenBusyMs ?? DEFAULT_GRACE_WHEN_BUSY_MS,
  };
}

export type Activity = 'idle' | 'in-use' | 'busy' | 'unknown';

/** busy: a job of the holder's runs; in-use: only a session is open; idle: neither. */
export function activityOf(report: ActivityReport | null): Activity {
  if (!report) return 'unknown';
  if (report.busy.length > 0 || report.gpuPercent.some((p) => p > GPU_BUSY_PERCENT)) return 'busy';
  return report.sessions.length > 0 ? 'in-use' : 'idle';
}

/** What the latest probe says now: unknown when it failed. */
export function currentActivity(record: LeaseActivity | undefined): Activity {
  if (!record || record.lastError !== null) return 'unknown';
  return activityOf(record.lastReport);
}

export function emptyActivity(lease: LeaseView): LeaseActivity {
  return { leaseId: lease.id, pool: lease.pool, lastProbeAt: null, lastReport: null, lastError: null, idleSince: null, idleMs: 0, promptedAt: null, keptAt: null, grace: null };
}

/**
 * The record after a probe at `now`. An idle run starts at the first idle probe and lasts while
 * every probe finds the VM idle; a busy, in-use or failed probe ends it. Idle time is counted
 * between two idle probes only.
 */
export function afterProbe(before: LeaseActivity, result: ProbeResult, now: number): { record: LeaseActivity; idleAddedMs: number } {
  if (!result.ok) return { record: { ...before, lastProbeAt: now, lastError: result.error, idleSince: null }, idleAddedMs: 0 };
  const idle = activityOf(result.report) === 'idle';
  const wasIdle = before.idleSince !== null && before.lastProbeAt !== null;
  const idleAddedMs = idle && wasIdle ? Math.max(0, now - before.lastProbeAt!) : 0;
  return {
    record: {
      ...before,
      lastProbeAt: now,
      lastReport: result.report,
      lastError: null,
      idleSince: idle ? (before.idleSince ?? now) : null,
      idleMs: before.idleMs + idleAddedMs,
    },
    idleAddedMs,
  };
}

/** How long the VM has been idle without a break, or 0. */
export function idleForMs(record: LeaseActivity | undefined, now: number): number {
  return record?.idleSince != null && record.lastError === null ? Math.max(0, now - record.idleSince) : 0;
}

export type IdleStep = { kind: 'prompt'; idleMs: number } | { kind: 'release'; idleMs: number } | null;

/**
 * After a probe: ask the holder once per idle run (Keep silences it for another idle period);
 * with `idleReleaseAfterMs`, release a VM whose holder did not answer that long after the
 * question, only while someone waits for the pool.
 */
export function idleStep(record: LeaseActivity, rules: ActivityRules, waiting: number, now: number): IdleStep {
  if (record.idleSince === null || record.lastError !== null) return null;
  const idleMs = now - record.idleSince;
  const quietFrom = Math.max(record.idleSince, record.keptAt ?? 0);
  const askedThisRun = record.promptedAt !== null && record.promptedAt >= quietFrom;
  if (!askedThisRun) return now - quietFrom >= rules.idleAfterMs ? { kind: 'prompt', idleMs } : null;
  if (rules.idleReleaseAfterMs !== null && waiting > 0 && now - record.promptedAt! >= rules.idleReleaseAfterMs) return { kind: 'release', idleMs };
  return null;
}

export type GraceDecision =
  | { grant: true; until: number; job: string }
  | { grant: false; reason: 'not-busy' | 'unknown' | 'waiting' | 'pool-allows-none' | 'given-before'; job: string | null };

/**
 * At expiry: postpone teardown by the pool's grace once, when the holder's job runs, nobody
 * waits for the pool and the pool allows it. The grace is recorded with the lease, so a second
 * expiry (the end of the grace) never gets another.
 */
export function graceAtExpiry(lease: LeaseView, record: LeaseActivity | undefined, rules: ActivityRules, waiting: number, now: number): GraceDecision {
  const activity = currentActivity(record);
  const job = activity === 'busy' ? describeJob(record!.lastReport!) : null;
  if (record?.grace) return { grant: false, reason: 'given-before', job };
  if (activity === 'unknown') return { grant: false, reason: 'unknown', job };
  if (activity !== 'busy') return { grant: false, reason: 'not-busy', job };
  if (waiting > 0) return { grant: false, reason: 'waiting', job };
  if (rules.graceWhenBusyMs <= 0) return { grant: false, reason: 'pool-allows-none', job };
  return { grant: true, until: Math.max(lease.expiresAt, now) + rules.graceWhenBusyMs, job: job! };
}

/** "python (3h 12m, 390% CPU)", the busiest process first, and how many more there are. */
export function describeJob(report: ActivityReport): string {
  const busy = [...report.busy].sort((a, b) => b.cpuPercent - a.cpuPercent);
  if (busy.length === 0) return report.gpuPercent.length ? `a GPU job (${Math.max(...report.gpuPercent)}% GPU)` : 'a job';
  const first = describeProcess(busy[0]!);
  return busy.length === 1 ? first : `${first} and ${busy.length - 1} more`;
}

export function describeProcess(p: BusyProcess): string {
  const parts = [formatDuration(p.elapsedMs), `${Math.round(p.cpuPercent)}% CPU`];
  if (p.gpu) parts.push('GPU');
  return `${p.command} (${parts.join(', ')})`;
}

/** At most this many files are listed by name. */
export const UNSAVED_LINES = 10;

/**
 * What teardown will lose: nothing when nothing changed; else a total ("3.2 GB in 41 files
 * outside your home directory will be lost, such as /scratch/run42/output.nxs (2.1 GB)") and
 * the largest files, at most ten lines, with how many more there are.
 */
export function unsavedWork(files: ChangedFiles | undefined): string[] {
  if (!files || files.count === 0) return [];
  const largest = [...files.largest].sort((a, b) => b.bytes - a.bytes);
  const atLeast = files.truncated ? 'at least ' : '';
  const first = largest[0];
  const total = `${atLeast}${formatBytes(files.bytes)} in ${files.count} ${files.count === 1 ? 'file' : 'files'} outside your home directory will be lost${first ? `, such as ${first.path} (${formatBytes(first.bytes)})` : ''}.`;
  const shown = largest.slice(0, UNSAVED_LINES);
  const lines = shown.map((f) => `  ${f.path} (${formatBytes(f.bytes)})`);
  const more = files.count - shown.length;
  if (more > 0 && lines.length === UNSAVED_LINES) lines[UNSAVED_LINES - 1] = `  …and ${more + 1} more`;
  else if (more > 0) lines.push(`  …and ${more} more`);
  return [total, ...lines];
}

/** 2.1 GB, 340 MB, 12 kB, 512 B (decimal units, as file managers show). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}
