import type { LeaseDue } from '../ports/tick-reads.ts';
import type { LeaseView, PoolSpec } from './model.ts';

/**
 * When the reconcile tick must read each of these leases again, after it has read them at `now`
 * and acted on what was due: the lease's next reminder stage or its expiry, whichever comes
 * first after `now`. A lease with nothing left after `now` (kept past its expiry, e.g. a busy
 * VM's grace) is due again at once, so every tick reads it until it ends. Pure: the store keeps
 * the answer in an index, so a tick reads only the leases that fall due.
 */
export function leasesDue(leases: readonly LeaseView[], pools: ReadonlyMap<string, PoolSpec>, now: number): LeaseDue[] {
  return leases.map((lease) => {
    let next = lease.expiresAt > now ? lease.expiresAt : null;
    for (const beforeMs of pools.get(lease.pool)?.remindBeforeMs ?? []) {
      const at = lease.expiresAt - beforeMs;
      if (at > now && (next === null || at < next)) next = at;
    }
    return { leaseId: lease.id, dueAt: next ?? now, expiresAt: lease.expiresAt };
  });
}
