import { poolHealthAfterError, type BackoffSettings } from '../core/backoff.ts';
import type { LeaseEndReason, LeaseView, Vm } from '../core/model.ts';
import type { Logger } from '../ports/logger.ts';
import type { Metrics } from '../ports/metrics.ts';
import type { OutboxMessage } from '../ports/outbox.ts';
import type { Store } from '../ports/store.ts';

/** Who the audit log names for what the scheduler does on its own. */
export const SCHEDULER_ACTOR = 'scheduler';

export interface OutcomesDeps {
  store: Store;
  log: Logger;
  metrics: Metrics;
  backoff: BackoffSettings;
  /** Called when a message was queued in the outbox, so that its sender delivers it. */
  onMessageQueued?: () => void;
  /** Told once per lease change the scheduler makes (ended, home ready), after its transaction: chat platforms refresh what they show. */
  onLeaseChange?: (account: string) => void;
  /** The fingerprint of a pool's configuration (core/circuit.ts), kept with each failure counted. */
  specOf?: (pool: string) => string | undefined;
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
    const health = poolHealthAfterError(store.poolHealth(pool), { message: error, at: now, countsAsFailure }, backoff);
    const spec = countsAsFailure ? this.deps.specOf?.(pool) : undefined;
    store.savePoolHealth(spec ? { ...health, spec } : health);
  }

  /** Ends the lease and audits it; false when it had already ended. */
  endLease(lease: LeaseView, reason: LeaseEndReason, now: number): boolean {
    const ended = this.deps.store.endLease(lease.id, reason, now);
    if (!ended) return false;
    this.deps.store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'teardown', target: lease.vm.name, result: 'ok', detail: { user: lease.user, reason } });
    this.leaseChanged(lease.user);
    return true;
  }

  /**
   * Tells whoever shows leases (a Slack Home tab) that `account`'s changed: once per change, a
   * microtask later, so after the synchronous transaction it was made in has committed.
   */
  leaseChanged(account: string): void {
    const listener = this.deps.onLeaseChange;
    if (listener) queueMicrotask(() => listener(account));
  }

  /**
   * Queues a direct message to a lease's user in the outbox. Call it inside the transaction of
   * the change it announces: the two commit together or not at all.
   */
  queueMessage(message: OutboxMessage): void {
    if (this.deps.store.enqueueMessage(message)) this.deps.onMessageQueued?.();
  }
}
