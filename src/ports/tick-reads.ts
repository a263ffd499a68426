import type { LeaseView, Vm } from '../core/model.ts';
import type { ReminderRecord } from './store.ts';

/** When the tick must next read a lease: its next reminder stage or its expiry. */
export interface LeaseDue {
  leaseId: string;
  dueAt: number;
  /** The expiry it was worked out from: a lease extended meanwhile is left due at once. */
  expiresAt: number;
}

/**
 * The store's reads for a reconcile tick between full walks, each by an index and proportional to
 * what changed: due leases, the VMs a cloud change names, live VMs counted per pool.
 */
export interface TickReadStore {
  /**
   * Active leases whose next reminder or expiry is due at `now`: those the tick scheduled for
   * then, and every lease it has not scheduled yet (a new claim, an extension).
   */
  dueLeases(now: number): LeaseView[];
  /** The reminders recorded for the leases `dueLeases(now)` returns, in one query. */
  dueReminders(now: number): ReminderRecord[];
  /** Records when each lease falls due next (active leases whose expiry is still the one given), in one transaction. */
  scheduleLeases(due: readonly LeaseDue[]): void;
  /** Makes every active lease due at once (after a start, when pools' reminder stages may have changed); returns how many. */
  leasesDueNow(): number;
  /** The earliest time after `now` at which an active lease falls due, if any. */
  nextLeaseDueAfter(now: number): number | null;
  /** Live VMs (not deleted) with one of these ids or server ids, oldest first. */
  liveVmsNamed(ids: readonly string[], serverIds: readonly string[]): Vm[];
  /** Live VMs per pool (pools without any are absent): an aggregate over the (pool, state) index. */
  liveVmCounts(): Map<string, number>;
}
