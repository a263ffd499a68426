import { homeReadyMessage, setupFailedMessage } from '../chat/lease-card.ts';
import { userSetupFailuresAfter, type BackoffSettings } from '../core/backoff.ts';
import { errorMessage } from '../core/error-message.ts';
import { noticeFor } from '../core/outbox.ts';
import type { LeaseView, PoolSpec, Vm } from '../core/model.ts';
import { retiredPoolSpec } from '../core/retired-pools.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Metrics } from '../ports/metrics.ts';
import { UserSetupError, type ClaimAccount, type Provisioner } from '../ports/provisioner.ts';
import type { Store } from '../ports/store.ts';
import type { Outcomes } from './outcomes.ts';

export interface BackgroundRunsOptions {
  store: Store;
  provisioner: Provisioner;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  pools: ReadonlyMap<string, PoolSpec>;
  backoff: BackoffSettings;
  outcomes: Outcomes;
  /** The account a claimed VM is set up for (from the facility directory); the lease's user name when absent. */
  claimAccount?: (user: string) => Promise<string | ClaimAccount>;
  /** Called when a run finished and another tick is due. */
  onProgress?: () => void;
  /** Called in the transaction that made a VM ready: the waitlist holds it for the first in line at once. */
  onVmReady?: (pool: string, at: number) => void;
}

/**
 * The plays that run outside the tick: provisioning a new VM, personalising a claimed one for its
 * user, and the release play before a used VM is deleted. Each is started once, tracked until it
 * settles, and recorded when it does; stop() interrupts them and idle() waits for them.
 */
export class BackgroundRuns {
  private readonly provisioning = new Map<string, AbortController>();
  /** Leases whose VM is being personalised, and VMs whose release play is running or done. */
  private readonly personalising = new Map<string, AbortController>();
  private readonly releasePlays = new Map<string, 'running' | 'done'>();
  /** Release plays under way, so stop() can interrupt them too (the next start runs them again). */
  private readonly releasing = new Map<string, AbortController>();
  private readonly jobs = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: BackgroundRunsOptions) {}

  /** VMs whose provisioning run is under way, for the planner. */
  provisioningVms(): Set<string> {
    return new Set(this.provisioning.keys());
  }

  /** Whether a claimed VM is being set up for its user: the tick then looks again soon. */
  anyPersonalising(): boolean {
    return this.personalising.size > 0;
  }

  startProvisioning(vm: Vm, address: string | null, now: number): void {
    const { store, provisioner, clock, log, metrics, outcomes } = this.options;
    if (!store.updateVm(vm.id, { state: 'provisioning', address }, now, ['booting', 'provisioning'])) return;
    const pool = this.options.pools.get(vm.pool)!;
    const controller = new AbortController();
    this.provisioning.set(vm.id, controller);
    const fresh = store.getVm(vm.id)!;
    this.track(
      provisioner.provision(fresh, pool, controller.signal).then(
        () => {
          const at = clock.now();
          const ready = store.transaction(() => {
            if (!store.updateVm(vm.id, { state: 'ready', readyAt: at }, at, 'provisioning')) return false;
            this.options.onVmReady?.(pool.name, at);
            return true;
          });
          if (ready) {
            store.savePoolHealth({ ...store.poolHealth(pool.name), consecutiveFailures: 0, backoffUntil: null });
            metrics.vmReady(pool.name, fresh.stateSince - vm.createdAt, at - fresh.stateSince);
            log.info({ vm: vm.name, readyMs: at - vm.createdAt }, 'ready');
          }
        },
        (error: unknown) => {
          if (this.stopped) return; // interrupted by shutdown: the next start runs it again
          outcomes.failVm(fresh, `provisioning failed: ${errorMessage(error)}`, clock.now());
        },
      ),
      () => this.provisioning.delete(vm.id),
    );
  }

  /** A claim hands over the VM at once; the user's account and home follow here, once per lease. */
  personaliseClaims(leases: readonly LeaseView[], now: number): void {
    for (const lease of leases) {
      if (lease.homeReadyAt === null && !this.personalising.has(lease.id) && lease.expiresAt > now && !this.stopped) this.startPersonalising(lease);
    }
  }

  private startPersonalising(lease: LeaseView): void {
    const { store, provisioner, clock, log, outcomes, claimAccount } = this.options;
    // A claim made before its pool left the configuration is still set up for its holder (retired-pools.ts).
    const pool = this.options.pools.get(lease.pool) ?? retiredPoolSpec(lease.pool, lease.vm);
    const controller = new AbortController();
    this.personalising.set(lease.id, controller);
    this.track(
      (claimAccount ? claimAccount(lease.user) : Promise.resolve(lease.user)).then((account) => provisioner.personalise(lease.vm, pool, account, controller.signal)).then(
        async (done) => {
          const at = clock.now();
          const ready = store.transaction(() => {
            if (!store.markHomeReady(lease.id, at)) return false; // released meanwhile
            store.clearUserSetupFailures(lease.user);
            outcomes.queueMessage(noticeFor('home-ready', lease, homeReadyMessage(lease, pool, done, at), at));
            return true;
          });
          if (!ready) return;
          outcomes.leaseChanged(lease.user);
          log.info({ vm: lease.vm.name, user: lease.user, homeCreated: done.homeCreated, ms: at - lease.claimedAt }, 'home directory ready');
        },
        async (error: unknown) => {
          if (this.stopped) return; // interrupted by shutdown: the next start runs it again
          await this.personalisingFailed(lease, pool, error);
        },
      ),
      () => this.personalising.delete(lease.id),
    );
  }

  /**
   * Never left half-personalised in anyone's hands: the lease ends. A failure of the VM's own
   * fails it (replaced as usual). A failure tied to the user (their account refused or not
   * makeable) is not the pool's fault: an untouched VM goes back to the pool, a touched one is
   * replaced, and the user's next claims back off, so one account cannot drain a pool.
   */
  private async personalisingFailed(lease: LeaseView, pool: PoolSpec, error: unknown): Promise<void> {
    const { store, clock, log, outcomes, backoff } = this.options;
    const at = clock.now();
    const userTied = error instanceof UserSetupError;
    const reason = `setting it up for ${lease.user} failed: ${errorMessage(error)}`;
    const backToPool = userTied && !error.vmChanged;
    const ended = store.transaction(() => {
      if (!outcomes.endLease(lease, 'setup-failed', at)) return false;
      if (backToPool) store.updateVm(lease.vmId, { state: 'ready', detail: null }, at, 'releasing');
      else store.updateVm(lease.vmId, { state: 'failed', detail: reason }, at, 'releasing');
      if (userTied) store.saveUserSetupFailures(userSetupFailuresAfter(store.userSetupFailures(lease.user), { user: lease.user, message: errorMessage(error), at }, backoff));
      const retryAt = userTied ? store.userSetupFailures(lease.user)?.retryAt : undefined;
      const body = setupFailedMessage(lease, errorMessage(error), retryAt === undefined ? undefined : { retryInMs: retryAt - at, contact: pool.owner });
      outcomes.queueMessage(noticeFor('setup-failed', lease, body, at));
      return true;
    });
    if (!ended) return;
    log.warn(
      { vm: lease.vm.name, user: lease.user, err: error, userTied, vm_back_to_pool: backToPool },
      userTied ? 'personalising failed for a reason tied to the user; their claims back off' : 'personalising a claimed VM failed; the user has their claim back',
    );
    outcomes.noteError(pool.name, `${lease.vm.name}: ${reason}`, at, false);
  }

  /**
   * Whether the server of a VM being deleted may go now. A VM a user had gets its release play
   * (flush, unmount) first, started here once; the play never blocks teardown, failed or not.
   */
  mayDeleteServer(vm: Vm | null | undefined): boolean {
    if (vm?.state !== 'releasing' || !vm.address || this.releasePlays.get(vm.id) === 'done') return true;
    if (!this.releasePlays.has(vm.id)) this.startReleasePlay(vm);
    return false;
  }

  /** The VM's server is gone: its release play is no longer remembered. */
  serverDeleted(vmId: string): void {
    this.releasePlays.delete(vmId);
  }

  private startReleasePlay(vm: Vm): void {
    // A pool removed from the configuration still gets its VMs' release plays (retired-pools.ts).
    const pool = this.options.pools.get(vm.pool) ?? retiredPoolSpec(vm.pool, vm);
    this.releasePlays.set(vm.id, 'running');
    const controller = new AbortController();
    this.releasing.set(vm.id, controller);
    this.track(
      this.options.provisioner.release(vm, pool, controller.signal).catch((error: unknown) => {
        // Interrupted by shutdown: the VM stays releasing, and the next start runs its play again.
        if (this.stopped) return;
        this.options.log.warn({ vm: vm.name, err: error }, 'release play failed; the VM is torn down anyway');
      }),
      () => {
        this.releasing.delete(vm.id);
        if (!this.stopped) this.releasePlays.set(vm.id, 'done');
      },
    );
  }

  /** Keeps track of a run, so stop() and idle() can wait for it, and asks for a tick after it. */
  private track(job: Promise<void>, cleanup: () => void): void {
    const tracked: Promise<void> = job.finally(() => {
      cleanup();
      this.jobs.delete(tracked);
      if (!this.stopped) this.options.onProgress?.();
    });
    this.jobs.add(tracked);
  }

  /**
   * Interrupts every run (provisioning, personalising, release plays) and waits for them to
   * settle: the bot stops within the runner's kill grace, and the next start runs them again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const controller of [...this.provisioning.values(), ...this.personalising.values(), ...this.releasing.values()]) controller.abort(new Error('the bot is stopping'));
    await Promise.allSettled([...this.jobs]);
  }

  /** Waits until no run is left, including runs started by runs that finished meanwhile. */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }
}
