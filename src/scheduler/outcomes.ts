import type { Reply } from '../chat/reply.ts';
import { poolHealthAfterError, type BackoffSettings } from '../core/backoff.ts';
import type { LeaseEndReason, LeaseView, Vm } from '../core/model.ts';
import type { Logger } from '../ports/logger.ts';
import type { Metrics } from '../ports/metrics.ts';
import type { Notifier } from '../ports/notifier.ts';
import type { Store } from '../ports/store.ts';

/** Who the audit log names for what the scheduler does on its own. */
export const SCHEDULER_ACTOR = 'scheduler';

export interface OutcomesDeps {
  store: Store;
  notifier: Notifier;
  log: Logger;
  metrics: Metrics;
  backoff: BackoffSettings;
}

/**
 * What the scheduler records when something ends or goes wrong, shared by the reconcile tick and
 * the background runs: a VM failed, a pool saw an error, a lease ended, a user is told.
 */
export class Outcomes {
  constructor(private readonly deps: OutcomesDeps) {}

  /** The VM is kept for diagnosis, then replaced; its pool backs off. */
  failVm(vm: Vm, reason: string, now: number): void {
    if (!this.deps.store.updateVm(vm.id, { state: 'failed', detail: reason }, now, vm.state)) return;
    this.deps.log.warn({ vm: vm.name, pool: vm.pool, reason }, 'VM failed; it is kept for diagnosis, then replaced');
    this.deps.metrics.provisioningFailed(vm.pool);
    this.noteError(vm.pool, `${vm.name}: ${reason}`, now, true);
  }

  noteError(pool: string, error: string, now: number, countsAsFailure: boolean): void {
    const { store, backoff } = this.deps;
    store.savePoolHealth(poolHealthAfterError(store.poolHealth(pool), { message: error, at: now, countsAsFailure }, backoff));
  }

  /** Ends the lease and audits it; false when it had already ended. */
  endLease(lease: LeaseView, reason: LeaseEndReason, now: number): boolean {
    const ended = this.deps.store.endLease(lease.id, reason, now);
    if (ended) this.deps.store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'teardown', target: lease.vm.name, result: 'ok', detail: { user: lease.user, reason } });
    return ended;
  }

  /** Sends the lease's user a direct message; false (and a log line) when it could not be delivered. */
  async tell(lease: LeaseView, body: Reply): Promise<boolean> {
    try {
      await this.deps.notifier.notify({ platform: lease.platform, user: lease.user, conversation: lease.conversation }, body);
      return true;
    } catch (error) {
      this.deps.log.warn({ err: error, user: lease.user, platform: lease.platform, vm: lease.vm.name }, 'could not deliver a direct message');
      return false;
    }
  }
}
