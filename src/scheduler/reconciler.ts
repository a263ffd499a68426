/**
 * The reconcile tick: one ordered pass over the waitlist, the leases (one transaction with their
 * messages), the circuits, the cloud and the pools' plan. Its jobs are files beside it:
 * cloud-observer.ts (what the cloud has), pool-effects.ts and lease-effects.ts (what the plans
 * do), background-runs.ts (plays), outcomes.ts (what failures and endings record) and
 * waitlist-keeper.ts (holds).
 */
import { errorMessage } from '../core/error-message.ts';
import { circuitOf, closedCircuit, failedUnderOtherSpec, specFingerprint } from '../core/circuit.ts';
import { type LeaseView, type PoolSpec, type Vm, type VmState } from '../core/model.ts';
import { DEFAULT_SIZE_SETTINGS, PoolSizes } from '../core/pool-sizes.ts';
import { leasesDue } from '../core/lease-due.ts';
import { planLeases, type LeaseAction } from '../core/plan-leases.ts';
import { planPools, type ObservedWorld, type Plan, type PlanSettings } from '../core/plan-pools.ts';
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
import { LeaseEffects } from './lease-effects.ts';
import { PoolEffects } from './pool-effects.ts';
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
  /** What the pool plan does to the cloud and the store (pool-effects.ts). */
  private readonly poolEffects: PoolEffects;
  /** What the lease plan writes, with its messages (lease-effects.ts). */
  private readonly leaseEffects: LeaseEffects;
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
    this.poolEffects = new PoolEffects({
      ...options,
      pools: this.pools,
      outcomes: this.outcomes,
      runs: this.runs,
      tag: this.tag,
      creating: this.creating,
      resync: () => this.observer.resync(),
    });
    this.leaseEffects = new LeaseEffects({ store: options.store, pools: this.pools, outcomes: this.outcomes, ...(options.activity ? { activity: options.activity } : {}) });
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
    const leaseActions = planLeases(leases, this.pools, this.options.store.dueReminders(now), now, this.leaseEffects.toldRetiring(leases));
    if (leases.length > 0) {
      this.options.store.transaction(() => {
        for (const action of leaseActions) this.leaseEffects.apply(action, now);
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
      await runLimited(plan.actions, this.options.settings.applyConcurrency, (action) => this.poolEffects.apply(action, now));
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
    const leases = planLeases(active, this.pools, this.options.store.activeReminders(), now, this.leaseEffects.toldRetiring(active));
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
}
