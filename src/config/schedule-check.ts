/**
 * The configuration check of pool size schedules (`pools.<name>.schedule`, `scheduler.timezone`):
 * a zone that exists, crons that parse and fire, sizes within `max`, and no two windows of a
 * pool (nor two occurrences of one window) covering the same moment. Run on the raw document,
 * like the other cross-key checks, so that everything is reported at once.
 */
import { parseDurationMs } from '../core/duration.ts';
import { cronOf, windowName } from '../core/pool-size.ts';
import type { SizeWindow } from '../core/model.ts';

type Loose = Record<string, unknown>;
const mapping = (value: unknown): Loose | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined);

/**
 * Occurrences are compared over two years from a fixed day, so that whether a configuration is
 * accepted does not depend on the day it is loaded (the years' DST days, a leap day included);
 * at most so many starts of each window (a cron costs about half a millisecond a start).
 */
export const CHECK_FROM = Date.UTC(2026, 0, 1);
const HORIZON_MS = 2 * 366 * 86_400_000;
const MAX_OCCURRENCES = 600;

/** True when `zone` is an IANA time zone this runtime knows (e.g. Europe/London, UTC). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Every problem with the schedules of `data` (the raw document), compared from `from` on. */
export function scheduleProblems(data: Loose, from = CHECK_FROM): string[] {
  const problems: string[] = [];
  const zoneRaw = mapping(data.scheduler)?.timezone;
  const timeZone = zoneRaw === undefined ? 'UTC' : typeof zoneRaw === 'string' && isTimeZone(zoneRaw) ? zoneRaw : undefined;
  if (timeZone === undefined) problems.push(`scheduler.timezone: ${JSON.stringify(zoneRaw)} is not a time zone: write an IANA name such as UTC, Europe/London or America/Chicago`);
  for (const [poolName, raw] of Object.entries(mapping(data.pools) ?? {})) {
    const schedule = mapping(raw)?.schedule;
    if (!Array.isArray(schedule)) continue;
    const max = mapping(raw)?.max;
    const windows: { at: string; w: SizeWindow }[] = [];
    schedule.forEach((entry, i) => {
      const e = mapping(entry);
      if (!e) return; // the schema reports its shape
      const label = typeof e.name === 'string' ? `"${e.name}"` : typeof e.cron === 'string' ? `"${e.cron}"` : `#${i + 1}`;
      const at = `pools.${poolName}.schedule[${i}] (${label})`;
      if (typeof e.size === 'number' && typeof max === 'number' && e.size > max) problems.push(`${at}.size: size ${e.size} is larger than max ${max}`);
      if (typeof e.cron !== 'string' || timeZone === undefined) return;
      const problem = cronProblem(e.cron, timeZone, from);
      if (problem) return void problems.push(`${at}.cron: ${problem}`);
      const forMs = typeof e.for === 'string' ? parseDurationMs(e.for) : undefined;
      if (forMs === undefined || forMs <= 0 || typeof e.size !== 'number') return;
      windows.push({ at, w: { cron: e.cron, forMs, size: e.size, ...(typeof e.name === 'string' ? { name: e.name } : {}) } });
    });
    if (timeZone !== undefined) problems.push(...overlaps(`pools.${poolName}.schedule`, windows, timeZone, from));
  }
  return problems;
}

/** Why a window's cron cannot be used, or undefined: five fields, valid, firing at least once. */
function cronProblem(pattern: string, timeZone: string, from: number): string | undefined {
  if (pattern.trim().split(/\s+/).length !== 5) return `"${pattern}" is not a cron expression of five fields (minute hour day-of-month month day-of-week), e.g. "0 8 * * 1-5"`;
  try {
    if (cronOf(pattern, timeZone).nextRun(new Date(from)) === null) return `"${pattern}" never fires (no date matches it): the window would never start`;
  } catch (error) {
    return `"${pattern}" is not a valid cron expression (${(error as Error).message.replace(/^CronPattern: /, '')})`;
  }
  return undefined;
}

/** Occurrences of the pool's windows over the next year, sorted; each overlap reported once, naming both. */
function overlaps(at: string, windows: readonly { at: string; w: SizeWindow }[], timeZone: string, from: number): string[] {
  const spans: { start: number; end: number; i: number }[] = [];
  windows.forEach(({ w }, i) => {
    const cron = cronOf(w.cron, timeZone);
    // From one window length back, so an occurrence under way now is compared too.
    let next = cron.nextRun(new Date(from - w.forMs));
    for (let n = 0; next && next.getTime() < from + HORIZON_MS && n < MAX_OCCURRENCES; n++) {
      spans.push({ start: next.getTime(), end: next.getTime() + w.forMs, i });
      next = cron.nextRun(next);
    }
  });
  spans.sort((a, b) => a.start - b.start || a.i - b.i);
  const problems: string[] = [];
  const reported = new Set<string>();
  let open: (typeof spans)[number] | undefined;
  for (const span of spans) {
    if (open && span.start < open.end) {
      const [a, b] = [Math.min(open.i, span.i), Math.max(open.i, span.i)];
      const key = `${a}/${b}`;
      if (!reported.has(key)) {
        reported.add(key);
        const when = `${formatAt(span.start, timeZone)} (${timeZone})`;
        const wa = windows[a]!.w;
        problems.push(
          a === b
            ? `${at}: window ${windowName(wa)} overlaps itself: it starts again at ${when}, before its ${describeFor(wa.forMs)} are over; make "for" shorter than the time between its starts`
            : `${at}: windows ${windowName(wa)} and ${windowName(windows[b]!.w)} overlap (both cover ${when}): a pool's windows may not overlap`,
        );
      }
    }
    if (!open || span.end > open.end) open = span;
  }
  return problems;
}

function formatAt(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone }).format(at).replace(/,/g, '');
}

function describeFor(ms: number): string {
  const hours = ms / 3_600_000;
  return Number.isInteger(hours) ? `${hours}h` : `${Math.round(ms / 60_000)}m`;
}
