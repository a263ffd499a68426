import type { ReminderRecord } from '../ports/store.ts';
import type { LeaseView, PoolSpec } from './model.ts';

export type LeaseAction =
  | { kind: 'expire'; lease: LeaseView }
  /** Send the reminder `beforeMs` ahead of expiry; earlier stages that were missed are `superseded`. */
  | { kind: 'remind'; lease: LeaseView; beforeMs: number; superseded: number[] }
  /** Tell the holder, once, that the lease's pool was removed from the configuration (retired-pools.ts). */
  | { kind: 'retiring'; lease: LeaseView };

/** Reminder stages of a lease that are due at `now`, most urgent last. */
export function dueStages(lease: LeaseView, pool: PoolSpec, now: number): number[] {
  return pool.remindBeforeMs.filter((beforeMs) => now >= lease.expiresAt - beforeMs).sort((a, b) => b - a);
}

const key = (leaseId: string, beforeMs: number, expiresAt: number) => `${leaseId}/${beforeMs}/${expiresAt}`;

/**
 * Which leases to tear down and which reminders to send. A stage is sent once per expiry time
 * (an extension moves the expiry and so re-arms every stage). When the bot was down across
 * several stages only the most urgent one is sent; the others are recorded as superseded, so
 * a user never gets "24 hours left" and "10 minutes left" in the same minute. A lease of a
 * pool no longer configured gets no reminders (its stages are gone with it) but one notice,
 * unless its id is in `toldRetiring`.
 */
export function planLeases(
  leases: readonly LeaseView[],
  pools: ReadonlyMap<string, PoolSpec>,
  recorded: readonly ReminderRecord[],
  now: number,
  toldRetiring: ReadonlySet<string> = new Set(),
): LeaseAction[] {
  const seen = new Set(recorded.map((r) => key(r.leaseId, r.beforeMs, r.expiresAt)));
  const actions: LeaseAction[] = [];
  for (const lease of leases) {
    if (now >= lease.expiresAt) {
      actions.push({ kind: 'expire', lease });
      continue;
    }
    const pool = pools.get(lease.pool);
    if (!pool) {
      if (!toldRetiring.has(lease.id)) actions.push({ kind: 'retiring', lease });
      continue;
    }
    const due = dueStages(lease, pool, now);
    const urgent = due.at(-1);
    if (urgent === undefined || seen.has(key(lease.id, urgent, lease.expiresAt))) continue;
    const superseded = due.slice(0, -1).filter((beforeMs) => !seen.has(key(lease.id, beforeMs, lease.expiresAt)));
    actions.push({ kind: 'remind', lease, beforeMs: urgent, superseded });
  }
  return actions;
}

/** When the next reminder or expiry of these leases falls due, if any. */
export function nextLeaseEvent(leases: readonly LeaseView[], pools: ReadonlyMap<string, PoolSpec>, now: number): number | null {
  let next: number | null = null;
  for (const lease of leases) {
    const times = [lease.expiresAt, ...(pools.get(lease.pool)?.remindBeforeMs ?? []).map((b) => lease.expiresAt - b)];
    for (const t of times) if (t > now && (next === null || t < next)) next = t;
  }
  return next;
}
