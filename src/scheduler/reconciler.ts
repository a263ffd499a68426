/**
 * The reconcile tick: one ordered pass over the waitlist, the leases (one transaction with their
 * messages), the circuits, the cloud and the pools' plan, and the effects that share its state
 * (VMs being created, the lease schedule). Longer than 350 lines because the pass is read as one;
 * its separable jobs are files beside it: background-runs.ts (plays), cloud-observer.ts,
 * outcomes.ts (what failures and endings record), waitlist-keeper.ts. The lease effects
 * (applyLease, toldRetiring) are the next to move out if it grows.
 */
import { poolRetiringMessage, reminderMessage, teardownMessage } from '../chat/lease-card.ts';
import { formatDuration } from '../core/duration.ts';
import { errorMessage } from '../core/error-message.ts';
import { circuitOf, closedCircuit, failedUnderOtherSpec, specFingerprint } from '../core/circuit.ts';
import { type LeaseView, type PoolSpec, type Vm, type VmState } from '../core/model.ts';
import { noticeFor, reminderFor } from '../core/outbox.ts';
import { DEFAULT_SIZE_SETTINGS, PoolSizes } from '../core/pool-sizes.ts';
import { leasesDue } from '../core/lease-due.ts';
import { planLeases, type LeaseAction } from '../core/plan-leases.ts';
import { META, planPools, type Action, type ObservedWorld, type Plan, type PlanSettings } from '../core/plan-pools.ts';
import type { CloudStatus } from '../core/service.ts';
import type { Clock } from '../ports/clock.ts';
import type { Cloud } from '../ports/cloud.ts';
import type { Logger } from '../ports/logger.ts';
import { noMetrics, type Metrics } from '../ports/metrics.ts';
import type { ClaimAccount, Provisioner } from '../ports/provisioner.ts';
import type { Store } from '../ports/store.ts';
import type { LeaseActivityHooks } from './activity-monitor.ts';
import { BackgroundRuns } from './background-runs.ts';
import { CloudObserver } from './cloud-observer.ts';
import { Outcomes, SCHEDULER_ACTOR } from './outcomes.ts';
import { runLimited } from './run-limited.ts';
import { WaitlistKeeper } from './waitlist-keeper.ts';

export interface ReconcilerSettings extends PlanSettings {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** How soon to look again while VMs are booting, provisioning or being deleted. */
  pollMs: number;
  /** Cloud calls made at once while applying a plan. */
  applyConcurrency: number;
  /** A full walk of the cloud at least this often (scheduler.resyncEvery); between walks only changes are read. 10 minutes if absent. */
  resyncEveryMs?: number;
}

export interface ReconcilerOptions {
  store: Store;
  cloud: Cloud;
  provisioner: Provisioner;
  clock: Clock;
  log: Logger;
  pools: readonly PoolSpec[];
  settings: ReconcilerSettings;
  /** Marks this deployment's servers, so two deployments can share a cloud project. */
  instance: string;
  /** Called when background work (a provisioning run) finished and another tick is due. */
  onProgress?: () => void;
  /** Called when a message to a user was queued in the outbox, so that its sender delivers it. */
  onMessageQueued?: () => void;
  /** Told once per lease change the scheduler makes (expired, lost, home ready or failed), after it committed. */
  onLeaseChange?: (account: string) => void;
  metrics?: Metrics;
  /** The account a claimed VM is set up for (from the facility directory); the lease's user name when absent. */
  claimAccount?: (user: string) => Promise<string | ClaimAccount>;
  /** The activity monitor: probes before the last reminder and expiry, the grace of a busy VM, what the last reminder names. */
  activity?: LeaseActivityHooks;
  /** Runs after each tick has acted (the alert rules); what it throws is logged, never fails the tick. */
  afterTick?: () => void;
  /** Pools' size schedules: the zone their crons are read in, the boot time assumed before any was seen. */
  schedule?: { timeZone: string; estimateMs: number };
}

/** scheduler.resyncEvery's default: a full walk every 10 minutes. */
export const DEFAULT_RESYNC_MS = 600_000;

export interface TickReport {
  actions: number;
  cloudReachable: boolean;
  /** When the next tick should run at the latest, or null if nothing is pending. */
  nextWakeAt: number | null;
}

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
  private readonly pools: Map<string, PoolSpec>;
  private stopped = false;
  /** Whether this process has made every lease due once (at its first tick). */
  private leasesScheduled = false;
  private lastTickAt: number | null = null;
  private readonly metrics: Metrics;
  private readonly outcomes: Outcomes;
  private readonly runs: BackgroundRuns;
  /** Hands ready VMs to the people waiting for them (holds, auto-assign, lapses). */
  private readonly waitlist: WaitlistKeeper;
  /** When the next hold runs out, as the last tick saw it. */
  private nextLapseAt: number | null = null;
  private readonly observer: CloudObserver;
  /** Each pool's warm size now: an admin's, a scheduled window's (filled ahead), or the configured one. */
  readonly sizes: PoolSizes;

  constructor(private readonly options: ReconcilerOptions) {
    this.pools = new Map(options.pools.map((p) => [p.name, p]));
    this.metrics = options.metrics ?? noMetrics;
    this.sizes = new PoolSizes(options.store, { ...DEFAULT_SIZE_SETTINGS, ...options.schedule, maxConcurrentBoots: options.settings.maxConcurrentBoots });
    const backoff = options.settings;
    const specOf = (pool: string) => {
      const spec = this.pools.get(pool);
      return spec && specFingerprint(spec);
    };
    this.outcomes = new Outcomes({ store: options.store, log: options.log, metrics: this.metrics, backoff, specOf, ...(options.onMessageQueued ? { onMessageQueued: options.onMessageQueued } : {}), ...(options.onLeaseChange ? { onLeaseChange: options.onLeaseChange } : {}) });
    this.waitlist = new WaitlistKeeper({ store: options.store, log: options.log, metrics: this.metrics, pools: this.pools, queueMessage: (m) => this.outcomes.queueMessage(m), leaseChanged: (account) => this.outcomes.leaseChanged(account) });
    this.runs = new BackgroundRuns({
      store: options.store,
      provisioner: options.provisioner,
      clock: options.clock,
      log: options.log,
      metrics: this.metrics,
      pools: this.pools,
      backoff,
      outcomes: this.outcomes,
      ...(options.claimAccount ? { claimAccount: options.claimAccount } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      // In the transaction that made the VM ready: held for the first in line at once.
      onVmReady: (pool, at) => void this.waitlist.servePool(pool, at),
    });
    this.observer = new CloudObserver({ cloud: options.cloud, store: options.store, log: options.log, pools: options.pools, tag: this.tag, resyncEveryMs: options.settings.resyncEveryMs ?? DEFAULT_RESYNC_MS });
  }

  get tag(): string {
    return `daaas:${this.options.instance}`;
  }

  /** The next tick walks the cloud's whole list instead of reading what changed. */
  resync(): void {
    this.observer.resync();
  }

  cloudStatus(): CloudStatus {
    return this.status;
  }

  async tick(): Promise<TickReport> {
    const started = this.options.clock.elapsedMs();
    try {
      return await this.reconcile();
    } finally {
      this.metrics.tick(this.options.clock.elapsedMs() - started);
    }
  }

  private async reconcile(): Promise<TickReport> {
    const now = this.options.clock.now();
    let count = 0;
    // Holds that ran out pass on; ready VMs nobody holds go to those waiting (waitlist-keeper.ts),
    // first, so that a VM leased at once (autoAssign) is among this tick's leases.
    const served = this.waitlist.serve(now);
    this.nextLapseAt = served.nextLapseAt;
    count += served.offered + served.assigned + served.lapsed;
    // Leases first: an expiry found now is torn down by the cloud half of this same tick. Only the
    // leases due are read (a new claim, an extension, a reminder stage or expiry reached); after a
    // start every active lease is, since the pools' reminder stages may have changed.
    if (!this.leasesScheduled) {
      this.options.store.leasesDueNow();
      this.leasesScheduled = true;
    }
    const leases = this.options.store.dueLeases(now);
    // The last reminder and teardown look at the VM first (bounded by the probe's timeout).
    await this.options.activity?.beforeLeases(leases, now);
    // One transaction: each expiry or reminder stage is written with the message about it, and
    // the outbox sender delivers the messages afterwards; the tick never waits on a chat platform.
    const leaseActions = planLeases(leases, this.pools, this.options.store.dueReminders(now), now, this.toldRetiring(leases));
    if (leases.length > 0) {
      this.options.store.transaction(() => {
        for (const action of leaseActions) this.applyLease(action, now);
        // When each lease read now is due again: its next stage or expiry (an ended one is left out).
        this.options.store.scheduleLeases(leasesDue(leases, this.pools, now));
      });
    }
    count += leaseActions.length;
    // A claim hands over the VM at once; the user's account and home follow in the background.
    this.runs.personaliseClaims(leases, now);

    this.closeCircuitsOfChangedPools(now);
    const world = await this.observe(now);
    if (world && !this.stopped) {
      const plan = planPools(world);
      this.status.notes = plan.notes;
      this.noteEmptyPools(world.pools, world.vms, now);
      await runLimited(plan.actions, this.options.settings.applyConcurrency, (action) => this.apply(action, now));
      count += plan.actions.length;
    }
    try {
      if (!this.stopped) this.options.afterTick?.();
    } catch (error) {
      this.options.log.error({ err: error }, 'the checks after the tick (alerts) failed; the next tick tries again');
    }
    return { actions: count, cloudReachable: world !== null, nextWakeAt: this.nextWakeAt(now, leases) };
  }

  /**
   * What one tick would do, without doing it: the lease actions and the pool plan. The cloud is
   * read (the list, and limits or images when a tick would read them), nothing is written.
   */
  async preview(): Promise<{ leases: LeaseAction[]; plan: Plan | null; cloudError: string | null }> {
    const now = this.options.clock.now();
    const active = this.options.store.activeLeases();
    const leases = planLeases(active, this.pools, this.options.store.activeReminders(), now, this.toldRetiring(active));
    const world = await this.observe(now);
    return { leases, plan: world && planPools(world), cloudError: world ? null : this.status.lastError };
  }

  /** The cloud and the store as they are now, or null (and status.lastError) when the cloud did not answer. */
  private async observe(now: number): Promise<ObservedWorld | null> {
    try {
      // Admins' run-time changes (warm size, drained, paused) are read from the store each tick.
      const controls = new Map(this.options.store.poolControls().map((c) => [c.pool, c]));
      const pools = this.options.pools.map((p) => ({ ...p, size: this.sizes.at(p, controls.get(p.name), now).size }));
      const view = await this.observer.read(pools, now);
      this.status.lastObservedAt = now;
      this.status.lastError = null;
      return {
        now,
        pools,
        paused: new Set([...controls.values()].filter((c) => c.paused).map((c) => c.pool)),
        drained: new Set([...controls.values()].filter((c) => c.drained).map((c) => c.pool)),
        // Waiting users are demand: pools boot for size + queued; held VMs are never retired.
        queued: new Map(this.options.pools.map((p) => [p.name, this.options.store.queuedCount(p.name)])),
        held: new Set(this.options.store.heldVmIds()),
        ...view,
        creating: this.creating,
        provisioning: this.runs.provisioningVms(),
        health: new Map(this.options.pools.map((p) => [p.name, this.options.store.poolHealth(p.name)])),
        settings: this.options.settings,
      };
    } catch (error) {
      this.status.lastError = errorMessage(error);
      this.options.log.warn({ err: error }, 'cloud not observed this tick; pools wait for the next');
      return null;
    }
  }

  /**
   * Failures counted under another configuration of the pool (its image, flavour or networks
   * changed since, e.g. across a restart) were failures of something else: the count starts
   * again and an open circuit closes, so the pool boots again. Failures without a fingerprint
   * of the configuration get the current one.
   */
  private closeCircuitsOfChangedPools(now: number): void {
    const { store } = this.options;
    const settings = this.options.settings.circuit;
    for (const pool of this.options.pools) {
      const health = store.poolHealth(pool.name);
      const spec = specFingerprint(pool);
      if (health.consecutiveFailures === 0 || health.spec === spec) continue;
      if (!failedUnderOtherSpec(health, pool)) {
        store.savePoolHealth({ ...health, spec });
        continue;
      }
      const wasOpen = settings !== undefined && circuitOf(health, now, settings).state !== 'closed';
      store.transaction(() => {
        store.savePoolHealth({ ...closedCircuit(health), spec });
        if (wasOpen) store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'circuit close', target: pool.name, result: 'ok', detail: { reason: 'configuration changed', image: pool.image, flavor: pool.flavor } });
      });
      this.options.log.info({ pool: pool.name, image: pool.image, flavor: pool.flavor, failures: health.consecutiveFailures, wasOpen }, 'the pool’s configuration changed since it failed: its failures no longer count, and it boots again');
    }
  }

  /** Time without a ready VM, per pool, since the last tick that saw the cloud. */
  private noteEmptyPools(pools: readonly PoolSpec[], vms: readonly Vm[], now: number): void {
    const since = this.lastTickAt;
    this.lastTickAt = now;
    if (since === null) return;
    for (const pool of pools) {
      if (pool.size > 0 && !vms.some((vm) => vm.pool === pool.name && vm.state === 'ready')) this.metrics.poolEmpty(pool.name, now - since);
    }
  }

  /** Stops provisioning runs and waits for every piece of background work to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.runs.stop();
  }

  /** Background work still running: provisioning, for tests and orderly shutdown. */
  async idle(): Promise<void> {
    await this.runs.idle();
  }

  /**
   * `leases` are those read at the start of the tick: the ones it ended have their events in
   * the past, and a lease is only ever added by a claim, which kicks a tick of its own.
   */
  private nextWakeAt(now: number, leases: readonly LeaseView[]): number | null {
    // By the state index: the VMs on their way, and the failed ones, never the claimed fleet.
    const vms = this.options.store.listVms({ states: ['booting', 'provisioning', 'releasing', 'failed'] });
    const moving: VmState[] = ['booting', 'provisioning', 'releasing'];
    if (this.status.lastError || this.runs.anyPersonalising() || vms.some((vm) => moving.includes(vm.state))) return now + this.options.settings.pollMs;
    const times: number[] = [];
    const lease = this.options.store.nextLeaseDueAfter(now);
    if (lease !== null) times.push(lease);
    for (const pool of this.options.pools) {
      const until = this.options.store.poolHealth(pool.name).backoffUntil;
      if (until !== null && until > now) times.push(until);
    }
    for (const vm of vms) if (vm.state === 'failed') times.push(vm.stateSince + this.options.settings.failedRetentionMs);
    // A window about to be filled ahead, or ending, is acted on then, not at the next heartbeat.
    const resize = this.sizes.nextChangeAt(this.options.pools, now);
    if (resize !== null) times.push(resize);
    if (this.nextLapseAt !== null) times.push(this.nextLapseAt);
    return times.length ? Math.max(now + 1, Math.min(...times)) : null;
  }

  // ---- pools and VMs -------------------------------------------------------------------------

  private async apply(action: Action, now: number): Promise<void> {
    try {
      switch (action.kind) {
        case 'create':
          return await this.create(this.pools.get(action.pool)!, now);
        case 'adopt':
          this.options.store.updateVm(action.vm.id, { serverId: action.server.id }, now, 'booting');
          return;
        case 'provision':
          return this.runs.startProvisioning(action.vm, action.address, now);
        case 'fail':
          return this.outcomes.failVm(action.vm, action.reason, now);
        case 'lost':
          return this.lost(action.vm, action.reason, now);
        case 'delete-server':
          // A VM a user had gets its release play (flush, unmount) first; it never blocks teardown.
          if (!this.runs.mayDeleteServer(action.vm)) return;
          await this.options.cloud.deleteServer(action.serverId);
          if (action.vm) this.runs.serverDeleted(action.vm.id);
          if (action.vm) this.options.store.updateVm(action.vm.id, { state: 'deleted' }, now, action.vm.state);
          this.options.log.info({ vm: action.vm?.name, server: action.serverId, reason: action.reason }, 'server deleted');
          if (!action.vm) this.options.store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'delete-orphan', target: action.serverId, result: 'ok', detail: { reason: action.reason } });
          return;
        case 'retire':
          // Guarded on `ready`, so a claim that got there first keeps its VM.
          this.options.store.updateVm(action.vm.id, { state: 'releasing', detail: action.reason ?? 'more than the pool needs' }, now, 'ready');
          return;
        case 'forget':
          this.options.store.updateVm(action.vm.id, { state: 'deleted', detail: action.vm.detail ?? action.reason }, now, action.vm.state);
          return;
      }
    } catch (error) {
      // After any error the next tick looks at everything again, not only at what changed.
      this.observer.resync();
      const pool = action.kind === 'create' ? action.pool : action.vm?.pool;
      this.options.log.warn({ err: error, action: action.kind, pool }, 'reconcile action failed; the next tick tries again');
      if (pool) this.outcomes.noteError(pool, `${action.kind}: ${errorMessage(error)}`, now, false);
    }
  }

  private async create(pool: PoolSpec, now: number): Promise<void> {
    // The record comes first: a server can then always be traced to it, even after a crash.
    const vm = this.options.store.createVm({ pool: pool.name, image: pool.image, flavor: pool.flavor, createdAt: now });
    this.creating.add(vm.id);
    try {
      // What the provisioner needs the VM to boot with (its SSH host key): the key is kept with
      // the VM before the server is asked for, so a server of ours never lacks its pinned key.
      const boot = (await this.options.provisioner.prepareBoot?.(vm)) ?? {};
      if (boot.hostKey) this.options.store.updateVm(vm.id, { hostKey: boot.hostKey }, now);
      const server = await this.options.cloud.createServer({
        name: vm.name,
        image: pool.image,
        flavor: pool.flavor,
        networks: pool.networks,
        metadata: { [META.managedBy]: this.options.instance, [META.pool]: pool.name, [META.vm]: vm.id },
        tags: [this.tag],
        ...(boot.userData ? { userData: boot.userData } : {}),
      });
      this.options.store.updateVm(vm.id, { serverId: server.id }, this.options.clock.now(), 'booting');
      this.options.log.info({ vm: vm.name, server: server.id }, 'booting');
    } catch (error) {
      // Not retried here: creation is not idempotent. If the server exists after all, the next
      // tick finds it by its tag and adopts it; if not, the record is dropped and replaced.
      // The VM keeps why, for admins (admin pools lists a failing pool's last failures).
      this.options.store.updateVm(vm.id, { detail: `boot: ${errorMessage(error)}` }, now);
      this.outcomes.noteError(pool.name, `boot: ${errorMessage(error)}`, now, true);
      throw error;
    } finally {
      this.creating.delete(vm.id);
    }
  }

  /** A claimed VM died under its user: end the lease and tell them, rather than leave them guessing. */
  private lost(vm: Vm, reason: string, now: number): void {
    const lease = this.options.store.activeLeases({ pool: vm.pool }).find((l) => l.vmId === vm.id);
    this.options.store.transaction(() => {
      this.options.store.updateVm(vm.id, { state: 'failed', detail: reason }, now, 'claimed');
      if (lease && this.outcomes.endLease(lease, 'vm-lost', now)) {
        this.outcomes.queueMessage(noticeFor('teardown', lease, teardownMessage(lease, `Your VM stopped working (${reason}).`), now));
      }
    });
    this.outcomes.noteError(vm.pool, `${vm.name} (claimed): ${reason}`, now, false);
  }

  // ---- leases --------------------------------------------------------------------------------

  /** Leases of pools no longer configured whose holder was told so already (the outbox keeps the message). */
  private toldRetiring(leases: readonly LeaseView[]): Set<string> {
    const told = new Set<string>();
    for (const lease of leases) {
      if (this.pools.has(lease.pool)) continue;
      if (this.options.store.outboxMessages({ leaseId: lease.id }).some((m) => m.kind === 'pool-retired')) told.add(lease.id);
    }
    return told;
  }

  /**
   * Runs inside the tick's lease transaction: an expiry and its teardown notice, a reminder
   * stage's record and its message, commit together. Nothing here waits on a chat platform:
   * the outbox sender delivers the messages after the transaction.
   */
  private applyLease(action: LeaseAction, now: number): void {
    const { lease } = action;
    if (action.kind === 'retiring') {
      this.outcomes.queueMessage(noticeFor('pool-retired', lease, poolRetiringMessage(lease, now), now));
      return;
    }
    const pool = this.pools.get(lease.pool);
    if (action.kind === 'expire') {
      // A busy VM may be given its one grace instead; otherwise the notice names the job stopped.
      const verdict = this.options.activity?.atExpiry(lease, now);
      if (verdict && 'graceUntil' in verdict) return;
      const stopped = verdict?.job ? ` A job was still running and was stopped: ${verdict.job}.` : '';
      if (this.outcomes.endLease(lease, 'expired', now)) {
        this.outcomes.queueMessage(noticeFor('teardown', lease, teardownMessage(lease, `Its lease of ${pool ? formatDuration(pool.leaseMs) : 'the pool'} ran out.${stopped}`), now));
      }
      return;
    }
    for (const beforeMs of action.superseded) this.options.store.recordReminder(lease.id, beforeMs, lease.expiresAt, 'superseded', now);
    // The stage is recorded once, with its message: it is queued once, whatever happens next.
    if (!pool || !this.options.store.recordReminder(lease.id, action.beforeMs, lease.expiresAt, 'queued', now)) return;
    const body = reminderMessage(lease, pool, now);
    this.outcomes.queueMessage(reminderFor(lease, action.beforeMs, this.options.activity?.reminder(lease, action.beforeMs, body) ?? body, now));
  }
}
