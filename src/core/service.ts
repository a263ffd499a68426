import type { AlertDesk } from './alert-desk.ts';
import type { MetricsSummary } from '../ports/metrics.ts';
import type { RunLog } from '../ports/provisioner.ts';
import { describeGroup, directoryUnavailableError, mayClaim } from './access.ts';
import { ActivityActions } from './activity-actions.ts';
import { AdminActions } from './admin-actions.ts';
import { circuitOf, type Circuit } from './circuit.ts';
import { formatDuration } from './duration.ts';
import { emptyPoolError } from './empty-pool.ts';
import { UserError } from './errors.ts';
import { GroupCommit } from './group-commit.ts';
import { type LeaseView, type Origin, type PoolSpec, type Principal, type Vm, type VmState } from './model.ts';
import { DEFAULT_SIZE_SETTINGS, PoolSizes } from './pool-sizes.ts';
import type { AdminCommandAudit, CloudStatus, PoolCounts, PoolOverview, ServiceOptions } from './service-types.ts';
import { poolRetiredError, retiredPoolSpec } from './retired-pools.ts';
import { suggest } from './suggest.ts';
import { Waitlists, type ClaimResult, type LeftQueue } from './waitlist-service.ts';
import type { QueueEntry } from '../ports/waitlist.ts';

export type { AdminCommandAudit, AdminMessages, CloudStatus, PoolAdminReport, PoolCounts, PoolOverview, ServiceOptions } from './service-types.ts';
export { DEFAULT_ADMIN_MAX_LEASE_MS } from './service-types.ts';

/** The use cases behind every chat entry point: claim, release, extend, status and overviews. */
export class DaaasService {
  private readonly pools: Map<string, PoolSpec>;
  /** What admins do to pools and to others' leases (admin-actions.ts). */
  readonly admin: AdminActions;
  /** Keep it, and what admins see of VMs' activity (activity-actions.ts). */
  readonly activity: ActivityActions;
  /** Each pool's warm size now and why (pool-sizes.ts). */
  readonly sizes: PoolSizes;
  /** The alerts admins ask about (alert-desk.ts); absent when the store keeps none. */
  readonly alerts: AlertDesk | undefined;
  /** The pools' queues: joining, holds taken, leaving, extensions while others wait (waitlist-service.ts). */
  private readonly waitlists: Waitlists;

  /** Claims arriving in the same moment, committed in one transaction (group-commit.ts). */
  private readonly claims: GroupCommit;

  constructor(private readonly options: ServiceOptions) {
    this.pools = new Map(options.pools.map((p) => [p.name, p]));
    this.claims = new GroupCommit({ transaction: (fn) => options.store.transaction(fn), inTransaction: () => options.store.inTransaction() });
    this.sizes = options.sizes ?? new PoolSizes(options.store, { ...DEFAULT_SIZE_SETTINGS, estimateMs: options.defaultReadyMs });
    this.admin = new AdminActions(options, this);
    this.activity = new ActivityActions(options, this);
    this.alerts = options.alerts;
    this.waitlists = new Waitlists({
      store: options.store,
      clock: options.clock,
      defaultReadyMs: options.defaultReadyMs,
      maxConcurrentBoots: options.maxConcurrentBoots ?? 10,
      ...(options.waitlistMetrics ? { metrics: options.waitlistMetrics } : {}),
    });
  }

  poolNames(): string[] {
    return [...this.pools.keys()];
  }

  pool(name: string): PoolSpec {
    const pool = this.pools.get(name.toLowerCase());
    if (pool) return pool;
    const close = suggest(name, this.poolNames());
    throw new UserError(
      'UNKNOWN_POOL',
      `There is no pool called "${name}".${close ? ` Did you mean ${close}?` : ''}`,
      `Pools: ${this.poolNames().join(', ')}. See them with: pools`,
    );
  }

  /**
   * Hands a warm VM to the user at once (the one held for them, if any), or a place in the pool's
   * queue when none is ready, or, for a pool without a queue, explains when the next one is expected.
   */
  claim(who: Principal, poolName: string, origin: Origin): ClaimResult {
    const pool = this.refusalAudited(who, 'claim', poolName, () => this.pool(poolName));
    const now = this.options.clock.now();
    return this.audited(who, 'claim', pool.name, () => {
      if (who.directoryUnavailable) throw directoryUnavailableError();
      if (!mayClaim(who, pool)) {
        throw new UserError(
          'NOT_ALLOWED',
          `Pool ${pool.name} is for members of ${pool.groups.map(describeGroup).join(' or ')}, and you are not one.`,
          `Ask ${pool.owner.name} (${pool.owner.contact}) for access.`,
        );
      }
      const drained = this.options.store.poolControl(pool.name).drained;
      if (drained) {
        throw new UserError('POOL_CLOSED', `${pool.name} is closed for maintenance: ${drained.reason}.`, `Ask ${pool.owner.name} (${pool.owner.contact}).`);
      }
      const setup = this.options.store.userSetupFailures(who.account);
      if (setup && setup.retryAt > now) {
        throw new UserError(
          'SETUP_BACKOFF',
          `Setting up a VM for you failed ${setup.failures === 1 ? 'just now' : `${setup.failures} times in a row`} (${setup.lastError}), so the bot waits before trying again: in ${formatDuration(setup.retryAt - now)}.`,
          `This is about your account, not the pool: ask ${pool.owner.name} (${pool.owner.contact}).`,
        );
      }
      const held = this.waitlists.takeHold(who, pool, now);
      if (held) {
        this.options.onChange(held.user);
        return { lease: held };
      }
      // First come, first served: while others wait without a VM, a newcomer queues behind them.
      const queues = this.waitlists.queues(pool);
      const outcome = queues && this.waitlists.othersWaiting(pool, who)
        ? ({ ok: false, reason: 'pool-empty', held: this.options.store.activeLeases({ user: who.account, pool: pool.name }).length } as const)
        : this.options.store.claim({
            pool: pool.name,
            user: who.account,
            platform: origin.platform,
            conversation: origin.conversation,
            now,
            leaseMs: pool.leaseMs,
            maxLeasesPerUser: pool.maxLeasesPerUser,
          });
      if (outcome.ok) {
        // Served at once: a place the user still had in the queue is no longer needed.
        this.options.store.leaveQueue(pool.name, who.account);
        this.waitlists.servedAtOnce(pool);
        this.options.onChange(outcome.lease.user);
        return { lease: outcome.lease };
      }
      if (outcome.reason === 'lease-limit') {
        const held = this.options.store.activeLeases({ user: who.account, pool: pool.name }).map((l) => l.vm.name);
        throw new UserError(
          'LEASE_LIMIT',
          `You already hold ${held.join(', ')} from ${pool.name}; the pool allows ${pool.maxLeasesPerUser} per person.`,
          `Use it, extend it, or release it first: release ${held[0] ?? ''}`.trim(),
        );
      }
      const empty = emptyPoolError({ pool, vms: this.options.store.listVms({ pool: pool.name }), status: this.options.cloudStatus(), typicalMs: this.typicalReadyMs(pool), circuit: this.circuit(pool.name), now });
      // A failing pool or a silent cloud makes no VM: say so rather than promise a place.
      if (!queues || empty.code !== 'POOL_EMPTY') throw empty;
      const queued = this.waitlists.join(who, pool, origin, now);
      this.options.onChange(who.account);
      return { queued };
    }, (result) => (result.queued ? 'QUEUED' : 'ok')); // 'ok' is a claim that got a VM; one that queued is audited as such
  }

  /** Leaves a pool's queue (the named one, or the user's only one); a VM held for them goes to the next in line. */
  leave(who: Principal, poolName: string | undefined): LeftQueue {
    const pool = poolName === undefined ? undefined : this.refusalAudited(who, 'leave', poolName, () => this.pool(poolName));
    return this.audited(who, 'leave', pool?.name ?? '-', () => {
      const left = this.waitlists.leave(who, pool);
      this.options.onChange(who.account);
      return left;
    });
  }

  /** How many wait in the pool's queue (those offered a held VM included). */
  queueLength(poolName: string): number {
    return this.options.store.queuedCount(this.pool(poolName).name);
  }

  /** The user's places in queues, with their true positions. */
  queuesOf(who: Principal): { entry: QueueEntry; position: number }[] {
    return this.waitlists.queuesOf(who);
  }

  /**
   * As claim, but committed together with the other claims that arrive in the same moment (one
   * transaction, one write to disk, for a burst): each is still whole or not at all with its audit
   * record, in arrival order. What chat uses; settles once the claim is on disk.
   */
  claimTogether(who: Principal, poolName: string, origin: Origin): Promise<ReturnType<DaaasService['claim']>> {
    return this.claims.run(() => this.claim(who, poolName, origin));
  }

  /** The pool of a lease, or a stand-in when its pool was removed from the configuration (status shows it as such). */
  leasePool(lease: LeaseView): PoolSpec {
    return this.pools.get(lease.pool) ?? retiredPoolSpec(lease.pool, lease.vm);
  }

  /** The configured pool of a lease; refused when it was removed from the configuration. */
  livePool(lease: LeaseView): PoolSpec {
    const pool = this.pools.get(lease.pool);
    if (!pool) throw poolRetiredError(lease, this.options.clock.now());
    return pool;
  }

  /** The user's own VMs, soonest expiry first. */
  leasesOf(who: Principal): LeaseView[] {
    return this.options.store.activeLeases({ user: who.account });
  }

  /** Finds the lease a command means: the named VM, or the user's only one. */
  target(who: Principal, vmName: string | undefined, verb: string): LeaseView {
    if (vmName === undefined) {
      const mine = this.leasesOf(who);
      if (mine.length === 1) return mine[0]!;
      if (mine.length === 0) throw new UserError('NO_LEASE', 'You have no VM at the moment.', 'Claim one with: claim <pool>  (see: pools)');
      throw new UserError('AMBIGUOUS_VM', `You have ${mine.length} VMs: ${mine.map((l) => l.vm.name).join(', ')}. Which one?`, `Say: ${verb} ${mine[0]!.vm.name}`);
    }
    const vm = this.options.store.findVmByName(vmName.toLowerCase());
    const lease = vm && this.options.store.activeLeases({ pool: vm.pool }).find((l) => l.vmId === vm.id);
    if (!lease) {
      throw new UserError('UNKNOWN_VM', `No VM called "${vmName}" is claimed at the moment.`, 'Your VMs are listed by: status');
    }
    if (lease.user !== who.account) throw new UserError('NOT_OWNER', `${lease.vm.name} is not yours, so you cannot ${verb} it.`);
    return lease;
  }

  /** Pushes the expiry out by the pool's extension step, within its limit. */
  extend(who: Principal, vmName: string | undefined): LeaseView {
    const lease = this.refusalAudited(who, 'extend', vmName ?? '-', () => this.target(who, vmName, 'extend'));
    // A pool removed from the configuration honours its leases, never extends them (retired-pools.ts).
    const pool = this.refusalAudited(who, 'extend', lease.vm.name, () => this.livePool(lease));
    return this.audited(who, 'extend', lease.vm.name, () => {
      if (who.directoryUnavailable) throw directoryUnavailableError();
      if (lease.extensionsUsed >= pool.maxExtensions) {
        throw new UserError(
          'EXTENSION_LIMIT',
          `${lease.extensionsUsed === 0 ? `${lease.vm.name} cannot be extended: pool ${pool.name} allows no extensions.` : `${lease.vm.name} has been extended ${timesWord(lease.extensionsUsed)}, the most pool ${pool.name} allows.`} It will be torn down in ${formatDuration(lease.expiresAt - this.options.clock.now())}.`,
          'Save your work to your home directory: it is kept when the VM goes.',
        );
      }
      // While others wait for the pool: extensions as usual, once more, or none (extendWhileQueued).
      this.waitlists.checkExtension(lease, pool);
      if (!this.options.store.extendLease(lease.id, lease.expiresAt + pool.extensionStepMs, lease.extensionsUsed)) {
        throw new UserError('NO_LEASE', `${lease.vm.name} changed while extending it (released or expired just now).`, 'Check with: status');
      }
      this.options.onChange(lease.user);
      return this.options.store.getLease(lease.id)!;
    });
  }

  /**
   * Ends the lease once `confirmed`; the reconciler then destroys the VM and refills the pool.
   * Unconfirmed, it only finds the lease, so the caller can ask.
   */
  release(who: Principal, vmName: string | undefined, confirmed: boolean): { lease: LeaseView; released: boolean } {
    const lease = this.refusalAudited(who, 'release', vmName ?? '-', () => this.target(who, vmName, 'release'));
    if (!confirmed) return { lease, released: false };
    this.audited(who, 'release', lease.vm.name, () => {
      if (!this.options.store.endLease(lease.id, 'released', this.options.clock.now())) {
        throw new UserError('NO_LEASE', `${lease.vm.name} is no longer yours (released or expired already).`, 'Check with: status');
      }
      this.options.onChange(lease.user);
    });
    return { lease, released: true };
  }

  overview(who: Principal): PoolOverview[] {
    const counts = this.countAll();
    const controls = new Map(this.options.store.poolControls().map((c) => [c.pool, c]));
    const now = this.options.clock.now();
    return this.options.pools.map((pool) => {
      const control = controls.get(pool.name) ?? { pool: pool.name, size: null, drained: null, paused: null };
      const sizeWhy = this.sizes.at(pool, control, now);
      return { pool, counts: counts.get(pool.name)!, mayClaim: mayClaim(who, pool), control, size: sizeWhy.size, sizeWhy };
    });
  }

  /** Admin commands are audited whatever they do, and so are attempts by non-admins. */
  auditAdminCommand(audit: AdminCommandAudit, result: string, detail?: Record<string, unknown>): void {
    const details = { ...(audit.reason !== null ? { reason: audit.reason } : {}), ...detail };
    this.options.store.audit({
      at: this.options.clock.now(),
      actor: audit.who.account,
      action: audit.command,
      target: audit.target,
      result,
      ...(Object.keys(details).length ? { detail: details } : {}),
    });
    audit.written = true;
  }

  /** The pool's circuit breaker now. */
  circuit(poolName: string): Circuit {
    if (!this.options.circuit) return { state: 'closed' };
    return circuitOf(this.options.store.poolHealth(poolName), this.options.clock.now(), this.options.circuit);
  }

  cloudStatus(): CloudStatus {
    return this.options.cloudStatus();
  }

  metrics(): MetricsSummary {
    return this.options.metrics?.() ?? { claimLatencyMs: null, emptyMs: new Map() };
  }

  /** For admins: a VM (deleted ones too) and the end of its last provisioning run's log. */
  async provisioningLog(vmName: string, maxLines = 40): Promise<{ vm: Vm; log: RunLog | undefined }> {
    const vm = this.options.store.findVmByName(vmName.toLowerCase());
    if (!vm) {
      const known = this.options.store.listVms().map((v) => v.name);
      const close = suggest(vmName, known);
      throw new UserError('UNKNOWN_VM', `There is no VM called "${vmName}".`, close ? `Did you mean ${close}?` : 'admin pools lists the pools; status lists your own VMs.');
    }
    return { vm, log: await this.options.runLog?.(vm.name, maxLines) };
  }

  /** Median creation-to-ready time of the pool's recent VMs, or the configured estimate. */
  typicalReadyMs(pool: PoolSpec): number {
    const recent = this.options.store.recentReadyTimesMs(pool.name, 9).sort((a, b) => a - b);
    return recent.length ? recent[Math.floor(recent.length / 2)]! : this.options.defaultReadyMs;
  }

  countAll(): Map<string, PoolCounts> {
    const counts = new Map<string, PoolCounts>(
      this.options.pools.map((p) => [p.name, { ready: 0, booting: 0, provisioning: 0, claimed: 0, releasing: 0, failed: 0, total: 0 }]),
    );
    for (const vm of this.options.store.listVms()) {
      const c = counts.get(vm.pool);
      if (!c || vm.state === 'deleted') continue;
      c[vm.state as Exclude<VmState, 'deleted'>]++;
      c.total++;
    }
    return counts;
  }

  /** Runs a look-up that may refuse (unknown pool, someone else's VM) and audits a refusal. */
  private refusalAudited<T>(who: Principal, action: string, target: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      this.options.store.audit({ at: this.options.clock.now(), actor: who.account, action, target, result: error instanceof UserError ? error.code : 'INTERNAL' });
      throw error;
    }
  }

  /** Runs a use case and writes its outcome, success or refusal, to the audit trail. */
  private audited<T>(who: Principal, action: string, target: string, fn: () => T, resultOf: (result: T) => string = () => 'ok'): T {
    const entry = { at: this.options.clock.now(), actor: who.account, action, target };
    try {
      // The audit record commits with the change it describes, or not at all.
      return this.options.store.transaction(() => {
        const result = fn();
        this.options.store.audit({ ...entry, result: resultOf(result) });
        return result;
      });
    } catch (error) {
      this.options.store.audit({ ...entry, result: error instanceof UserError ? error.code : 'INTERNAL' });
      throw error;
    }
  }
}

/** once, twice, 3 times: how a count of repetitions reads. */
function timesWord(count: number): string {
  return count === 1 ? 'once' : count === 2 ? 'twice' : `${count} times`;
}
