/**
 * A pool's warm size at a moment, and why: the one rule the reconciler fills to and `pools` /
 * `admin pools` explain. Pure: the time, the admin's controls and the boot-to-ready times seen
 * are given; cron windows are evaluated (croner) in the configured time zone, DST included.
 *
 * Order: drained (0) → an admin's `admin resize` while set → a scheduled window the moment is
 * in → a larger window starting within its lead time (filled ahead, so its VMs are ready, not
 * booting, when it starts) → the configured `size`.
 */
import { Cron } from 'croner';
import type { PoolControl, PoolSpec, SizeWindow } from './model.ts';

export type SizeSource = 'drained' | 'admin' | 'window' | 'ahead' | 'configured';

export interface PoolSize {
  size: number;
  source: SizeSource;
  /** The window's name (or its cron) for `window` and `ahead`. */
  window?: string;
  /** `window`: when it ends; `ahead`: when the window being filled for starts. */
  until?: number;
  startsAt?: number;
  /** `admin`, `drained`: who. */
  by?: string;
}

export interface SizeContext {
  /** IANA zone the windows' crons are read in (`scheduler.timezone`). */
  timeZone: string;
  /** How long before a window starts it is filled: see `leadTimeMs`. */
  leadMs: (window: SizeWindow) => number;
}

const cache = new Map<string, Cron>();

/** The window's cron in the zone, parsed once. Throws on an invalid pattern or zone. */
export function cronOf(pattern: string, timeZone: string): Cron {
  const key = `${timeZone}\n${pattern}`;
  let cron = cache.get(key);
  if (!cron) {
    cron = new Cron(pattern, { timezone: timeZone, paused: true, mode: '5-part' });
    if (cache.size > 1000) cache.clear();
    cache.set(key, cron);
  }
  return cron;
}

export const windowName = (w: SizeWindow): string => w.name ?? `"${w.cron}"`;

/**
 * The starts around `t`: the latest at or before it and the first after it. Kept per cron, and
 * valid for every moment between the two, so a tick asks croner again only once a start passed.
 */
interface Bracket {
  prev: number | null;
  next: number | null;
}
const brackets = new WeakMap<Cron, Bracket>();

function bracket(w: SizeWindow, t: number, timeZone: string): Bracket {
  const cron = cronOf(w.cron, timeZone);
  const known = brackets.get(cron);
  if (known && (known.prev === null || known.prev <= t) && (known.next === null || t < known.next)) return known;
  // croner drops milliseconds and includes a run in the reference's own second.
  const before = cron.previousRuns(1, new Date(Math.floor(t / 1000) * 1000 + 999))[0]?.getTime();
  const after = cron.nextRun(new Date(t))?.getTime();
  const found = { prev: before !== undefined && before <= t ? before : null, next: after ?? null };
  brackets.set(cron, found);
  return found;
}

/** The latest start of the window at or before `t`, or null. */
export function lastStart(w: SizeWindow, t: number, timeZone: string): number | null {
  return bracket(w, t, timeZone).prev;
}

/** The first start of the window strictly after `t`, or null if it never fires again. */
export function nextStart(w: SizeWindow, t: number, timeZone: string): number | null {
  return bracket(w, t, timeZone).next;
}

/** The window occurrence `t` is inside: [start, start + for). */
export function activeOccurrence(w: SizeWindow, t: number, timeZone: string): { start: number; end: number } | null {
  const start = lastStart(w, t, timeZone);
  return start !== null && t < start + w.forMs ? { start, end: start + w.forMs } : null;
}

/** The pool's warm size at `t` and why. */
export function poolSizeAt(pool: PoolSpec, control: PoolControl | undefined, t: number, context: SizeContext): PoolSize {
  if (control?.drained) return { size: 0, source: 'drained', by: control.drained.by };
  if (control && control.size !== null) return { size: control.size, source: 'admin', ...(control.sizeBy ? { by: control.sizeBy.by } : {}) };
  const windows = pool.schedule ?? [];
  let best: PoolSize = { size: pool.size, source: 'configured' };
  for (const w of windows) {
    const on = activeOccurrence(w, t, context.timeZone);
    if (on) {
      best = { size: w.size, source: 'window', window: windowName(w), until: on.end };
      break; // windows of one pool never overlap (the configuration check refuses it)
    }
  }
  // A larger window about to start is filled now, so that its VMs are ready when it does.
  for (const w of windows) {
    if (w.size <= best.size) continue;
    const start = nextStart(w, t, context.timeZone);
    if (start !== null && start - t <= context.leadMs(w)) best = { size: w.size, source: 'ahead', window: windowName(w), startsAt: start };
  }
  return best;
}

/**
 * When the scheduled size next changes: a window's end, or the moment a larger one starts being
 * filled. The reconciler wakes then, not only at its heartbeat. Null without a schedule.
 */
export function nextSizeChangeAt(pool: PoolSpec, t: number, context: SizeContext): number | null {
  const times: number[] = [];
  for (const w of pool.schedule ?? []) {
    const on = activeOccurrence(w, t, context.timeZone);
    if (on) times.push(on.end);
    const start = nextStart(w, t, context.timeZone);
    if (start !== null) times.push(start - context.leadMs(w), start);
  }
  const future = times.filter((x) => x > t);
  return future.length ? Math.min(...future) : null;
}

/** The `p`-th percentile (0–100) of `values`, nearest rank; undefined when there are none. */
export function percentileOf(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Lead time to spare beyond the boots themselves: the ticks that start them, a slower boot. */
export const LEAD_MARGIN = 1.25;

/**
 * How long before `window` starts its pool is filled: the 95th percentile of the boot-to-ready
 * times seen (or `estimateMs` before any was seen), once per wave of boots the extra VMs need
 * (`maxConcurrentBoots` at once), a quarter more to spare; or the pool's `leadTime`, whichever
 * is longer.
 */
export function leadTimeMs(pool: PoolSpec, window: SizeWindow, readyTimesMs: readonly number[], o: { estimateMs: number; maxConcurrentBoots: number }): number {
  const boot = percentileOf(readyTimesMs, 95) ?? o.estimateMs;
  const waves = Math.max(1, Math.ceil(Math.max(0, window.size - pool.size) / Math.max(1, o.maxConcurrentBoots)));
  return Math.max(Math.round(boot * waves * LEAD_MARGIN), pool.leadTimeMs ?? 0);
}
