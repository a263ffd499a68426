import { homeReadyMessage, reminderMessage, setupFailedMessage, teardownMessage } from '../chat/lease-card.ts';
import type { Reply } from '../chat/reply.ts';
import { backoffMs } from '../core/backoff.ts';
import { formatDuration } from '../core/duration.ts';
import type { LeaseEndReason, LeaseView, PoolHealth, PoolSpec, Vm, VmState } from '../core/model.ts';
import { nextLeaseEvent, planLeases, type LeaseAction } from '../core/plan-leases.ts';
import { META, planPools, type Action, type ObservedWorld, type Plan, type PlanSettings } from '../core/plan-pools.ts';
import type { CloudStatus } from '../core/service.ts';
import type { Clock } from '../ports/clock.ts';
import type { Cloud, CloudServer } from '../ports/cloud.ts';
import type { Logger } from '../ports/logger.ts';
import { noMetrics, type Metrics } from '../ports/metrics.ts';
import type { Notifier } from '../ports/notifier.ts';
import { UserSetupError, type ClaimAccount, type Provisioner } from '../ports/provisioner.ts';
import type { Store } from '../ports/store.ts';

export interface ReconcilerSettings extends PlanSettings {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** How soon to look again while VMs are booting, provisioning or being deleted. */
  pollMs: number;
  /** Cloud calls made at once while applying a plan. */
  applyConcurrency: number;
}

export interface ReconcilerOptions {
  store: Store;
  cloud: Cloud;
  provisioner: Provisioner;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  pools: readonly PoolSpec[];
  settings: ReconcilerSettings;
  /** Marks this deployment's servers, so two deployments can share a cloud project. */
  instance: string;
  /** Called when background work (a provisioning run) finished and another tick is due. */
  onProgress?: () => void;
  metrics?: Metrics;
  /** The account a claimed VM is set up for (from the facility directory); the lease's user name when absent. */
  claimAccount?: (user: string) => Promise<string | ClaimAccount>;
}

export interface TickReport {
  actions: number;
  cloudReachable: boolean;
  /** When the next tick should run at the latest, or null if nothing is pending. */
  nextWakeAt: number | null;
}

const ACTOR = 'scheduler';
const WARM: readonly VmState[] = ['booting', 'provisioning', 'ready'];
/** Reminders and expiries handled at once in a tick. */
const LEASE_CONCURRENCY = 16;
/** States in which a missing server would cost a VM, so its absence is confirmed first. */
const CONFIRM: readonly VmState[] = [...WARM, 'claimed'];

/**
 * The level-based control loop: each tick observes the cloud once (a paged list), compares it
 * with the store, and acts. Every step is safe to repeat and a crash at any point is repaired
 * by the next tick, because the next tick starts again from what is, not from what was done.
 */
export class Reconciler {
  readonly status: { lastObservedAt: number | null; lastError: string | null; notes: Map<string, string> } = {
    lastObservedAt: null,
    lastError: null,
    notes: new Map(),
  };
  private readonly creating = new Set<string>();
  private readonly provisioning = new Map<string, AbortController>();
  /** Leases whose VM is being personalised, and VMs whose release play is running or done. */
  private readonly personalising = new Map<string, AbortController>();
  private readonly releasePlays = new Map<string, 'running' | 'done'>();
  private readonly jobs = new Set<Promise<void>>();
  private readonly pools: Map<string, PoolSpec>;
  private readonly coresPerVm = new Map<string, number>();
  private stopped = false;
  private lastTickAt: number | null = null;
  private readonly metrics: Metrics;

  constructor(private readonly o: ReconcilerOptions) {
    this.pools = new Map(o.pools.map((p) => [p.name, p]));
    this.metrics = o.metrics ?? noMetrics;
  }

  get tag(): string {
    return `daaas:${this.o.instance}`;
  }

  cloudStatus(): CloudStatus {
    return this.status;
  }

  async tick(): Promise<TickReport> {
    const started = this.o.clock.elapsedMs();
    try {
      return await this.reconcile();
    } finally {
      this.metrics.tick(this.o.clock.elapsedMs() - started);
    }
  }

  private async reconcile(): Promise<TickReport> {
    const now = this.o.clock.now();
    let count = 0;
    // Leases first: an expiry found now is torn down by the cloud half of this same tick.
    const leases = this.o.store.activeLeases();
    // Several at once: a chat platform's round trip must not hold up a fan-out of reminders.
    // Each is recorded before it is sent, so none is ever sent twice.
    const leaseActions = planLeases(leases, this.pools, this.o.store.activeReminders(), now);
    await runLimited(leaseActions, LEASE_CONCURRENCY, (action) => this.applyLease(action, now));
    count += leaseActions.length;
    // A claim hands over the VM at once; the user's account and home follow in the background.
    for (const lease of leases) {
      if (lease.homeReadyAt === null && !this.personalising.has(lease.id) && lease.expiresAt > now && !this.stopped) this.startPersonalising(lease);
    }

    const world = await this.observe(now);
    if (world && !this.stopped) {
      const plan = planPools(world);
      this.status.notes = plan.notes;
      this.noteEmptyPools(world.vms, now);
      await runLimited(plan.actions, this.o.settings.applyConcurrency, (action) => this.apply(action, now));
      count += plan.actions.length;
    }
    return { actions: count, cloudReachable: world !== null, nextWakeAt: this.nextWakeAt(now, leases) };
  }

  /**
   * What one tick would do, without doing it: the lease actions and the pool plan. The cloud is
   * read (the list, and limits or images when a tick would read them), nothing is written.
   */
  async preview(): Promise<{ leases: LeaseAction[]; plan: Plan | null; cloudError: string | null }> {
    const now = this.o.clock.now();
    const leases = planLeases(this.o.store.activeLeases(), this.pools, this.o.store.activeReminders(), now);
    const world = await this.observe(now);
    return { leases, plan: world && planPools(world), cloudError: world ? null : this.status.lastError };
  }

  /** The cloud and the store as they are now, or null (and status.lastError) when the cloud did not answer. */
  private async observe(now: number): Promise<ObservedWorld | null> {
    try {
      const servers = await this.o.cloud.listServers(this.tag);
      const vms = this.o.store.listVms();
      servers.push(...(await this.confirmMissing(servers, vms)));
      let capacity: { instances: number; cores: number } | null = null;
      // Quotas matter only when a pool is short: at steady state a tick costs one list call.
      if (this.o.pools.some((pool) => vms.filter((vm) => vm.pool === pool.name && WARM.includes(vm.state)).length < pool.size)) {
        const limits = await this.o.cloud.limits();
        capacity = { instances: limits.maxInstances - limits.usedInstances, cores: limits.maxCores - limits.usedCores };
        await this.learnFlavors();
      }
      const currentImages = await this.currentImages(vms);
      this.status.lastObservedAt = now;
      this.status.lastError = null;
      return {
        now,
        pools: this.o.pools,
        vms,
        servers,
        creating: this.creating,
        provisioning: new Set(this.provisioning.keys()),
        health: new Map(this.o.pools.map((p) => [p.name, this.o.store.poolHealth(p.name)])),
        capacity,
        coresPerVm: this.coresPerVm,
        currentImages,
        settings: this.o.settings,
      };
    } catch (error) {
      this.status.lastError = message(error);
      this.o.log.warn({ err: error }, 'cloud not observed this tick; pools wait for the next');
      return null;
    }
  }

  /** Time without a ready VM, per pool, since the last tick that saw the cloud. */
  private noteEmptyPools(vms: readonly Vm[], now: number): void {
    const since = this.lastTickAt;
    this.lastTickAt = now;
    if (since === null) return;
    for (const pool of this.o.pools) {
      if (pool.size > 0 && !vms.some((vm) => vm.pool === pool.name && vm.state === 'ready')) this.metrics.poolEmpty(pool.name, now - since);
    }
  }

  /** Stops provisioning runs and waits for every piece of background work to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const controller of [...this.provisioning.values(), ...this.personalising.values()]) controller.abort(new Error('the bot is stopping'));
    await Promise.allSettled([...this.jobs]);
  }

  /** Background work still running: provisioning, for tests and orderly shutdown. */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  /**
   * `leases` are those read at the start of the tick: the ones it ended have their events in
   * the past, and a lease is only ever added by a claim, which kicks a tick of its own.
   */
  private nextWakeAt(now: number, leases: readonly LeaseView[]): number | null {
    const vms = this.o.store.listVms();
    const moving: VmState[] = ['booting', 'provisioning', 'releasing'];
    if (this.status.lastError || this.personalising.size > 0 || vms.some((vm) => moving.includes(vm.state))) return now + this.o.settings.pollMs;
    const times: number[] = [];
    const lease = nextLeaseEvent(leases, this.pools, now);
    if (lease !== null) times.push(lease);
    for (const pool of this.o.pools) {
      const until = this.o.store.poolHealth(pool.name).backoffUntil;
      if (until !== null && until > now) times.push(until);
    }
    for (const vm of vms) if (vm.state === 'failed') times.push(vm.stateSince + this.o.settings.failedRetentionMs);
    return times.length ? Math.max(now + 1, Math.min(...times)) : null;
  }

  /**
   * Servers of live VMs that the list left out, asked for one by one: a VM is called lost only
   * when the cloud says so of that server itself. Costs a call only when something is amiss.
   */
  private async confirmMissing(listed: readonly CloudServer[], vms: readonly Vm[]): Promise<CloudServer[]> {
    const seen = new Set(listed.map((s) => s.id));
    const found: CloudServer[] = [];
    for (const vm of vms) {
      if (!vm.serverId || seen.has(vm.serverId) || !CONFIRM.includes(vm.state)) continue;
      const server = await this.o.cloud.getServer(vm.serverId);
      if (server) {
        this.o.log.info({ vm: vm.name, server: server.id }, 'a server missing from the list is still there');
        found.push(server);
      }
    }
    return found;
  }

  /** The current image of each pool with ready VMs, to replace those built from an older one. */
  private async currentImages(vms: readonly Vm[]): Promise<Map<string, string>> {
    // One look-up per image name, all at once: pools often share an image.
    const lookups = new Map<string, Promise<string | null>>();
    for (const pool of this.o.pools) {
      if (!vms.some((vm) => vm.pool === pool.name && vm.state === 'ready') || lookups.has(pool.image)) continue;
      lookups.set(
        pool.image,
        this.o.cloud.imageId(pool.image).catch((error: unknown) => {
          this.o.log.warn({ err: error, image: pool.image }, 'could not tell which image is current; ready VMs are kept as they are');
          return null;
        }),
      );
    }
    const images = new Map<string, string>();
    for (const pool of this.o.pools) {
      const id = await lookups.get(pool.image);
      if (id) images.set(pool.name, id);
    }
    return images;
  }

  private async learnFlavors(): Promise<void> {
    for (const pool of this.o.pools) {
      if (!this.coresPerVm.has(pool.name)) this.coresPerVm.set(pool.name, await this.o.cloud.flavorCores(pool.flavor));
    }
  }

  // ---- pools and VMs -------------------------------------------------------------------------

  private async apply(action: Action, now: number): Promise<void> {
    try {
      switch (action.kind) {
        case 'create':
          return await this.create(this.pools.get(action.pool)!, now);
        case 'adopt':
          this.o.store.updateVm(action.vm.id, { serverId: action.server.id }, now, 'booting');
          return;
        case 'provision':
          return this.startProvisioning(action.vm, action.address, now);
        case 'fail':
          return this.fail(action.vm, action.reason, now);
        case 'lost':
          return await this.lost(action.vm, action.reason, now);
        case 'delete-server':
          // A VM a user had gets its release play (flush, unmount) first; it never blocks teardown.
          if (action.vm?.state === 'releasing' && action.vm.address && this.releasePlays.get(action.vm.id) !== 'done') {
            if (!this.releasePlays.has(action.vm.id)) this.startReleasePlay(action.vm);
            return;
          }
          await this.o.cloud.deleteServer(action.serverId);
          if (action.vm) this.releasePlays.delete(action.vm.id);
          if (action.vm) this.o.store.updateVm(action.vm.id, { state: 'deleted' }, now, action.vm.state);
          this.o.log.info({ vm: action.vm?.name, server: action.serverId, reason: action.reason }, 'server deleted');
          if (!action.vm) this.o.store.audit({ at: now, actor: ACTOR, action: 'delete-orphan', target: action.serverId, result: 'ok', detail: { reason: action.reason } });
          return;
        case 'retire':
          // Guarded on `ready`, so a claim that got there first keeps its VM.
          this.o.store.updateVm(action.vm.id, { state: 'releasing', detail: action.reason ?? 'more than the pool needs' }, now, 'ready');
          return;
        case 'forget':
          this.o.store.updateVm(action.vm.id, { state: 'deleted', detail: action.vm.detail ?? action.reason }, now, action.vm.state);
          return;
      }
    } catch (error) {
      const pool = action.kind === 'create' ? action.pool : action.vm?.pool;
      this.o.log.warn({ err: error, action: action.kind, pool }, 'reconcile action failed; the next tick tries again');
      if (pool) this.noteError(pool, `${action.kind}: ${message(error)}`, now, false);
    }
  }

  private async create(pool: PoolSpec, now: number): Promise<void> {
    // The record comes first: a server can then always be traced to it, even after a crash.
    const vm = this.o.store.createVm({ pool: pool.name, image: pool.image, flavor: pool.flavor, createdAt: now });
    this.creating.add(vm.id);
    try {
      const server = await this.o.cloud.createServer({
        name: vm.name,
        image: pool.image,
        flavor: pool.flavor,
        networks: pool.networks,
        metadata: { [META.managedBy]: this.o.instance, [META.pool]: pool.name, [META.vm]: vm.id },
        tags: [this.tag],
      });
      this.o.store.updateVm(vm.id, { serverId: server.id }, this.o.clock.now(), 'booting');
      this.o.log.info({ vm: vm.name, server: server.id }, 'booting');
    } catch (error) {
      // Not retried here: creation is not idempotent. If the server exists after all, the next
      // tick finds it by its tag and adopts it; if not, the record is dropped and replaced.
      this.noteError(pool.name, `boot: ${message(error)}`, now, true);
      throw error;
    } finally {
      this.creating.delete(vm.id);
    }
  }

  private startProvisioning(vm: Vm, address: string | null, now: number): void {
    if (!this.o.store.updateVm(vm.id, { state: 'provisioning', address }, now, ['booting', 'provisioning'])) return;
    const pool = this.pools.get(vm.pool)!;
    const controller = new AbortController();
    this.provisioning.set(vm.id, controller);
    const fresh = this.o.store.getVm(vm.id)!;
    this.background(
      this.o.provisioner.provision(fresh, pool, controller.signal).then(
        () => {
          const at = this.o.clock.now();
          if (this.o.store.updateVm(vm.id, { state: 'ready', readyAt: at }, at, 'provisioning')) {
            this.o.store.savePoolHealth({ ...this.o.store.poolHealth(pool.name), consecutiveFailures: 0, backoffUntil: null });
            this.metrics.vmReady(pool.name, fresh.stateSince - vm.createdAt, at - fresh.stateSince);
            this.o.log.info({ vm: vm.name, readyMs: at - vm.createdAt }, 'ready');
          }
        },
        (error: unknown) => {
          if (this.stopped) return; // interrupted by shutdown: the next start runs it again
          this.fail(fresh, `provisioning failed: ${message(error)}`, this.o.clock.now());
        },
      ),
      () => this.provisioning.delete(vm.id),
    );
  }

  private startPersonalising(lease: LeaseView): void {
    const pool = this.pools.get(lease.pool);
    if (!pool) return;
    const controller = new AbortController();
    this.personalising.set(lease.id, controller);
    this.background(
      (this.o.claimAccount ? this.o.claimAccount(lease.user) : Promise.resolve(lease.user)).then((account) => this.o.provisioner.personalise(lease.vm, pool, account, controller.signal)).then(
        async (done) => {
          const at = this.o.clock.now();
          if (!this.o.store.markHomeReady(lease.id, at)) return; // released meanwhile
          this.o.store.clearUserSetupFailures(lease.user);
          this.o.log.info({ vm: lease.vm.name, user: lease.user, homeCreated: done.homeCreated, ms: at - lease.claimedAt }, 'home directory ready');
          await this.tell(lease, homeReadyMessage(lease, pool, done, at));
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
    const at = this.o.clock.now();
    const userTied = error instanceof UserSetupError;
    const reason = `setting it up for ${lease.user} failed: ${message(error)}`;
    const backToPool = userTied && !error.vmChanged;
    const ended = this.o.store.transaction(() => {
      if (!this.endLease(lease, 'setup-failed', at)) return false;
      if (backToPool) this.o.store.updateVm(lease.vmId, { state: 'ready', detail: null }, at, 'releasing');
      else this.o.store.updateVm(lease.vmId, { state: 'failed', detail: reason }, at, 'releasing');
      if (userTied) {
        const failures = (this.o.store.userSetupFailures(lease.user)?.failures ?? 0) + 1;
        const retryAt = at + backoffMs(failures, this.o.settings.backoffInitialMs, this.o.settings.backoffMaxMs);
        this.o.store.saveUserSetupFailures({ user: lease.user, failures, lastError: message(error), lastFailedAt: at, retryAt });
      }
      return true;
    });
    if (!ended) return;
    this.o.log.warn(
      { vm: lease.vm.name, user: lease.user, err: error, userTied, vm_back_to_pool: backToPool },
      userTied ? 'personalising failed for a reason tied to the user; their claims back off' : 'personalising a claimed VM failed; the user has their claim back',
    );
    this.noteError(pool.name, `${lease.vm.name}: ${reason}`, at, false);
    const retryAt = userTied ? this.o.store.userSetupFailures(lease.user)?.retryAt : undefined;
    await this.tell(lease, setupFailedMessage(lease, message(error), retryAt === undefined ? undefined : { retryInMs: retryAt - at, contact: pool.owner }));
  }

  private startReleasePlay(vm: Vm): void {
    const pool = this.pools.get(vm.pool);
    if (!pool) return;
    this.releasePlays.set(vm.id, 'running');
    const controller = new AbortController();
    this.background(
      this.o.provisioner.release(vm, pool, controller.signal).catch((error: unknown) => {
        this.o.log.warn({ vm: vm.name, err: error }, 'release play failed; the VM is torn down anyway');
      }),
      () => this.releasePlays.set(vm.id, 'done'),
    );
  }

  /** Keeps track of a background job, so stop() and idle() can wait for it, and ticks after it. */
  private background(job: Promise<void>, cleanup: () => void): void {
    const tracked: Promise<void> = job.finally(() => {
      cleanup();
      this.jobs.delete(tracked);
      if (!this.stopped) this.o.onProgress?.();
    });
    this.jobs.add(tracked);
  }

  private fail(vm: Vm, reason: string, now: number): void {
    if (!this.o.store.updateVm(vm.id, { state: 'failed', detail: reason }, now, vm.state)) return;
    this.o.log.warn({ vm: vm.name, pool: vm.pool, reason }, 'VM failed; it is kept for diagnosis, then replaced');
    this.metrics.provisioningFailed(vm.pool);
    this.noteError(vm.pool, `${vm.name}: ${reason}`, now, true);
  }

  /** A claimed VM died under its user: end the lease and tell them, rather than leave them guessing. */
  private async lost(vm: Vm, reason: string, now: number): Promise<void> {
    const lease = this.o.store.activeLeases({ pool: vm.pool }).find((l) => l.vmId === vm.id);
    this.o.store.transaction(() => {
      this.o.store.updateVm(vm.id, { state: 'failed', detail: reason }, now, 'claimed');
      if (lease) this.endLease(lease, 'vm-lost', now);
    });
    this.noteError(vm.pool, `${vm.name} (claimed): ${reason}`, now, false);
    if (lease) await this.tell(lease, teardownMessage(lease, `Your VM stopped working (${reason}).`));
  }

  private noteError(pool: string, error: string, now: number, countsAsFailure: boolean): void {
    const h: PoolHealth = this.o.store.poolHealth(pool);
    const failures = countsAsFailure ? h.consecutiveFailures + 1 : h.consecutiveFailures;
    this.o.store.savePoolHealth({
      pool,
      lastError: error,
      lastErrorAt: now,
      consecutiveFailures: failures,
      backoffUntil: countsAsFailure ? now + backoffMs(Math.max(1, failures), this.o.settings.backoffInitialMs, this.o.settings.backoffMaxMs) : h.backoffUntil,
    });
  }

  // ---- leases --------------------------------------------------------------------------------

  private async applyLease(action: LeaseAction, now: number): Promise<void> {
    const { lease } = action;
    const pool = this.pools.get(lease.pool);
    if (action.kind === 'expire') {
      if (this.o.store.transaction(() => this.endLease(lease, 'expired', now))) {
        await this.tell(lease, teardownMessage(lease, `Its lease of ${pool ? formatDuration(pool.leaseMs) : 'the pool'} ran out.`));
      }
      return;
    }
    for (const beforeMs of action.superseded) this.o.store.recordReminder(lease.id, beforeMs, lease.expiresAt, 'superseded', now);
    // Recorded before sending: a crash may lose this reminder, but can never send it twice.
    if (!pool || !this.o.store.recordReminder(lease.id, action.beforeMs, lease.expiresAt, 'sending', now)) return;
    const sent = await this.tell(lease, reminderMessage(lease, pool, now));
    this.o.store.setReminderStatus(lease.id, action.beforeMs, lease.expiresAt, sent ? 'sent' : 'failed');
    this.metrics.reminder(sent ? 'sent' : 'failed');
  }

  private endLease(lease: LeaseView, reason: LeaseEndReason, now: number): boolean {
    const ended = this.o.store.endLease(lease.id, reason, now);
    if (ended) this.o.store.audit({ at: now, actor: ACTOR, action: 'teardown', target: lease.vm.name, result: 'ok', detail: { user: lease.user, reason } });
    return ended;
  }

  private async tell(lease: LeaseView, body: Reply): Promise<boolean> {
    try {
      await this.o.notifier.notify({ platform: lease.platform, user: lease.user, conversation: lease.conversation }, body);
      return true;
    } catch (error) {
      this.o.log.warn({ err: error, user: lease.user, platform: lease.platform, vm: lease.vm.name }, 'could not deliver a direct message');
      return false;
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

