/**
 * The lease plan's effects, inside the tick's lease transaction: an expiry with its teardown
 * notice (or a busy VM's one grace), a reminder stage's record with its message, a retiring
 * pool's notice. Nothing here waits on a chat platform: the outbox sender delivers afterwards.
 */
import { poolRetiringMessage, reminderMessage, teardownMessage } from '../chat/lease-card.ts';
import { formatDuration } from '../core/duration.ts';
import type { LeaseView, PoolSpec } from '../core/model.ts';
import { noticeFor, reminderFor } from '../core/outbox.ts';
import type { LeaseAction } from '../core/plan-leases.ts';
import type { Store } from '../ports/store.ts';
import type { LeaseActivityHooks } from './activity-monitor.ts';
import type { Outcomes } from './outcomes.ts';

export interface LeaseEffectsDeps {
  store: Store;
  pools: ReadonlyMap<string, PoolSpec>;
  outcomes: Outcomes;
  activity?: LeaseActivityHooks;
}

export class LeaseEffects {
  constructor(private readonly deps: LeaseEffectsDeps) {}

  /** Leases of pools no longer configured whose holder was told so already (the outbox keeps the message). */
  toldRetiring(leases: readonly LeaseView[]): Set<string> {
    const told = new Set<string>();
    for (const lease of leases) {
      if (this.deps.pools.has(lease.pool)) continue;
      if (this.deps.store.outboxMessages({ leaseId: lease.id }).some((m) => m.kind === 'pool-retired')) told.add(lease.id);
    }
    return told;
  }

  /**
   * Runs inside the tick's lease transaction: an expiry and its teardown notice, a reminder
   * stage's record and its message, commit together. Nothing here waits on a chat platform:
   * the outbox sender delivers the messages after the transaction.
   */
  apply(action: LeaseAction, now: number): void {
    const { lease } = action;
    if (action.kind === 'retiring') {
      this.deps.outcomes.queueMessage(noticeFor('pool-retired', lease, poolRetiringMessage(lease, now), now));
      return;
    }
    const pool = this.deps.pools.get(lease.pool);
    if (action.kind === 'expire') {
      // A busy VM may be given its one grace instead; otherwise the notice names the job stopped.
      const verdict = this.deps.activity?.atExpiry(lease, now);
      if (verdict && 'graceUntil' in verdict) return;
      const stopped = verdict?.job ? ` A job was still running and was stopped: ${verdict.job}.` : '';
      if (this.deps.outcomes.endLease(lease, 'expired', now)) {
        this.deps.outcomes.queueMessage(noticeFor('teardown', lease, teardownMessage(lease, `Its lease of ${pool ? formatDuration(pool.leaseMs) : 'the pool'} ran out.${stopped}`), now));
      }
      return;
    }
    for (const beforeMs of action.superseded) this.deps.store.recordReminder(lease.id, beforeMs, lease.expiresAt, 'superseded', now);
    // The stage is recorded once, with its message: it is queued once, whatever happens next.
    if (!pool || !this.deps.store.recordReminder(lease.id, action.beforeMs, lease.expiresAt, 'queued', now)) return;
    const body = reminderMessage(lease, pool, now);
    this.deps.outcomes.queueMessage(reminderFor(lease, action.beforeMs, this.deps.activity?.reminder(lease, action.beforeMs, body) ?? body, now));
  }
}
