import type { Clock } from '../ports/clock.ts';
import type { MetricsSummary } from '../ports/metrics.ts';
import type { RunLog } from '../ports/provisioner.ts';
import type { OutboxMessage } from '../ports/outbox.ts';
import type { Store } from '../ports/store.ts';
import { describeGroup, directoryUnavailableError, mayClaim } from './access.ts';
import { circuitOf, closedCircuit, type Circuit, type CircuitSettings } from './circuit.ts';
import { formatDuration } from './duration.ts';
import { UserError } from './errors.ts';
import { effectiveSize, type LeaseView, type Origin, type PoolControl, type PoolHealth, type PoolSpec, type Principal, type Vm, type VmState } from './model.ts';
import { messageKey, noticeFor, DELIVER_WITHIN_MS } from './outbox.ts';
import { suggest } from './suggest.ts';

/** What the scheduler last saw of the cloud; the service uses it to explain empty pools. */
export interface CloudStatus {
  lastObservedAt: number | null;
  lastError: string | null;
  /** Per pool: why it is not being filled (at maximum, backing off, quota), if it is not. */
  notes: ReadonlyMap<string, string>;
}

export interface PoolCounts {
  ready: number;
  booting: number;
  provisioning: number;
  claimed: number;
  releasing: number;
  failed: number;
  total: number;
}

export interface PoolOverview {
  pool: PoolSpec;
  counts: PoolCounts;
  mayClaim: boolean;
  /** Admins' run-time changes: size override, drained, paused. */
  control: PoolControl;
  /** The warm size worked to now (0 while drained). */
  size: number;
}

/**
 * One admin command's audit record: the admin, the command, its target and reason. Written
 * once: by the use case, in the transaction of its change, or else by the dispatcher.
 */
export interface AdminCommandAudit {
  who: Principal;
  command: string;
  target: string;
  reason: string | null;
  written: boolean;
}

/** What an admin's action tells a lease's holder: built by the chat layer (lease-card.ts). */
export interface AdminMessages {
  released(lease: LeaseView, admin: string, reason: string | null): OutboxMessage['body'];
  extended(lease: LeaseView, admin: string, reason: string | null, byMs: number): OutboxMessage['body'];
}

/** How far admins may extend a lease when the configuration does not say: 7 days in all. */
export const DEFAULT_ADMIN_MAX_LEASE_MS = 7 * 86_400_000;

export interface PoolAdminReport extends PoolOverview {
  health: PoolHealth;
  circuit: Circuit;
  note: string | null;
  oldestLease: LeaseView | null;
  typicalReadyMs: number;
}

export interface ServiceOptions {
  store: Store;
  clock: Clock;
  pools: readonly PoolSpec[];
  cloudStatus: () => CloudStatus;
  /**
   * Told after a lease of `account` changed (claimed, extended, released), so the reconciler
   * acts at once and chat platforms can refresh what they show that user.
   */
  onChange: (account: string) => void;
  /** Boot + provisioning time assumed until the pool has been seen filling. */
  defaultReadyMs: number;
  /** The end of the last provisioning run's log of a VM. */
  runLog?: (vmName: string, maxLines: number) => Promise<RunLog | undefined>;
  /** Claim latency and time empty, for admins. */
  metrics?: () => MetricsSummary;
  /** Called when a message was queued in the outbox, so that its sender delivers it. */
  onMessageQueued?: () => void;
  /** Called after an admin changed a pool (size, drained, paused), so the reconciler acts at once. */
  onPoolChange?: () => void;
  /** The circuit breaker of failing pools (the planner's settings), to explain it and to close it. */
  circuit?: CircuitSettings;
  /** The longest a lease may last, claim to expiry, when admins extend it. */
  adminMaxLeaseMs?: number;
  /** What holders are told when an admin ends or extends their lease. */
  adminMessages?: AdminMessages;
}

/** The use cases behind every chat entry point: claim, release, extend, status and overviews. */
export class DaaasService {
  private readonly pools: Map<string, PoolSpec>;

  constructor(private readonly o: ServiceOptions) {
    this.pools = new Map(o.pools.map((p) => [p.name, p]));
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

  /** Hands a warm VM to the user at once, or explains when the next one is expected. */
  claim(who: Principal, poolName: string, origin: Origin): LeaseView {
    const pool = this.refusalAudited(who, 'claim', poolName, () => this.pool(poolName));
    const now = this.o.clock.now();
    return this.audited(who, 'claim', pool.name, () => {
      if (who.directoryUnavailable) throw directoryUnavailableError();
      if (!mayClaim(who, pool)) {
        throw new UserError(
          'NOT_ALLOWED',
          `Pool ${pool.name} is for members of ${pool.groups.map(describeGroup).join(' or ')}, and you are not one.`,
          `Ask ${pool.owner.name} (${pool.owner.contact}) for access.`,
        );
      }
      const drained = this.o.store.poolControl(pool.name).drained;
      if (drained) {
        throw new UserError('POOL_CLOSED', `${pool.name} is closed for maintenance: ${drained.reason}.`, `Ask ${pool.owner.name} (${pool.owner.contact}).`);
      }
      const setup = this.o.store.userSetupFailures(who.account);
      if (setup && setup.retryAt > now) {
        throw new UserError(
          'SETUP_BACKOFF',
          `Setting up a VM for you failed ${setup.failures === 1 ? 'just now' : `${setup.failures} times in a row`} (${setup.lastError}), so the bot waits before trying again: in ${formatDuration(setup.retryAt - now)}.`,
          `This is about your account, not the pool: ask ${pool.owner.name} (${pool.owner.contact}).`,
        );
      }
      const outcome = this.o.store.claim({
        pool: pool.name,
        user: who.account,
        platform: origin.platform,
        conversation: origin.conversation,
        now,
        leaseMs: pool.leaseMs,
        maxLeasesPerUser: pool.maxLeasesPerUser,
      });
      if (outcome.ok) {
        this.o.onChange(outcome.lease.user);
        return outcome.lease;
      }
      if (outcome.reason === 'lease-limit') {
        const held = this.o.store.activeLeases({ user: who.account, pool: pool.name }).map((l) => l.vm.name);
        throw new UserError(
          'LEASE_LIMIT',
          `You already hold ${held.join(', ')} from ${pool.name}; the pool allows ${pool.maxLeasesPerUser} per person.`,
          `Use it, extend it, or release it first: release ${held[0] ?? ''}`.trim(),
        );
      }
      throw this.emptyPoolError(pool, now);
    });
  }

  /** The user's own VMs, soonest expiry first. */
  leasesOf(who: Principal): LeaseView[] {
    return this.o.store.activeLeases({ user: who.account });
  }

  /** Finds the lease a command means: the named VM, or the user's only one. */
  private target(who: Principal, vmName: string | undefined, verb: string): LeaseView {
    if (vmName === undefined) {
      const mine = this.leasesOf(who);
      if (mine.length === 1) return mine[0]!;
      if (mine.length === 0) throw new UserError('NO_LEASE', 'You have no VM at the moment.', 'Claim one with: claim <pool>  (see: pools)');
      throw new UserError('AMBIGUOUS_VM', `You have ${mine.length} VMs: ${mine.map((l) => l.vm.name).join(', ')}. Which one?`, `Say: ${verb} ${mine[0]!.vm.name}`);
    }
    const vm = this.o.store.findVmByName(vmName.toLowerCase());
    const lease = vm && this.o.store.activeLeases({ pool: vm.pool }).find((l) => l.vmId === vm.id);
    if (!lease) {
      throw new UserError('UNKNOWN_VM', `No VM called "${vmName}" is claimed at the moment.`, 'Your VMs are listed by: status');
    }
    if (lease.user !== who.account) throw new UserError('NOT_OWNER', `${lease.vm.name} is not yours, so you cannot ${verb} it.`);
    return lease;
  }

  /** Pushes the expiry out by the pool's extension step, within its limit. */
  extend(who: Principal, vmName: string | undefined): LeaseView {
    const lease = this.refusalAudited(who, 'extend', vmName ?? '-', () => this.target(who, vmName, 'extend'));
    const pool = this.pool(lease.pool);
    return this.audited(who, 'extend', lease.vm.name, () => {
      if (who.directoryUnavailable) throw directoryUnavailableError();
      if (lease.extensionsUsed >= pool.maxExtensions) {
        throw new UserError(
          'EXTENSION_LIMIT',
          `${lease.extensionsUsed === 0 ? `${lease.vm.name} cannot be extended: pool ${pool.name} allows no extensions.` : `${lease.vm.name} has been extended ${timesWord(lease.extensionsUsed)}, the most pool ${pool.name} allows.`} It will be torn down in ${formatDuration(lease.expiresAt - this.o.clock.now())}.`,
          'Save your work to your home directory: it is kept when the VM goes.',
        );
      }
      if (!this.o.store.extendLease(lease.id, lease.expiresAt + pool.extensionStepMs, lease.extensionsUsed)) {
        throw new UserError('NO_LEASE', `${lease.vm.name} changed while extending it (released or expired just now).`, 'Check with: status');
      }
      this.o.onChange(lease.user);
      return this.o.store.getLease(lease.id)!;
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
      if (!this.o.store.endLease(lease.id, 'released', this.o.clock.now())) {
        throw new UserError('NO_LEASE', `${lease.vm.name} is no longer yours (released or expired already).`, 'Check with: status');
      }
      this.o.onChange(lease.user);
    });
    return { lease, released: true };
  }

  overview(who: Principal): PoolOverview[] {
    const counts = this.countAll();
    const controls = new Map(this.o.store.poolControls().map((c) => [c.pool, c]));
    return this.o.pools.map((pool) => {
      const control = controls.get(pool.name) ?? { pool: pool.name, size: null, drained: null, paused: null };
      return { pool, counts: counts.get(pool.name)!, mayClaim: mayClaim(who, pool), control, size: effectiveSize(pool, control) };
    });
  }

  adminReport(who: Principal): PoolAdminReport[] {
    const status = this.o.cloudStatus();
    return this.overview(who).map((o) => ({
      ...o,
      health: this.o.store.poolHealth(o.pool.name),
      circuit: this.circuit(o.pool.name),
      note: status.notes.get(o.pool.name) ?? null,
      oldestLease: this.o.store.activeLeases({ pool: o.pool.name }).sort((a, b) => a.claimedAt - b.claimedAt)[0] ?? null,
      typicalReadyMs: this.typicalReadyMs(o.pool),
    }));
  }

  /** Admin commands are audited whatever they do, and so are attempts by non-admins. */
  auditAdminCommand(audit: AdminCommandAudit, result: string, detail?: Record<string, unknown>): void {
    const details = { ...(audit.reason !== null ? { reason: audit.reason } : {}), ...detail };
    this.o.store.audit({
      at: this.o.clock.now(),
      actor: audit.who.account,
      action: audit.command,
      target: audit.target,
      result,
      ...(Object.keys(details).length ? { detail: details } : {}),
    });
    audit.written = true;
  }

  // ---- admins --------------------------------------------------------------------------------

  /** Every live lease, of one pool or all, soonest expiry first. */
  adminLeases(poolName: string | undefined): LeaseView[] {
    const pool = poolName === undefined ? undefined : this.pool(poolName).name;
    return this.o.store.activeLeases(pool ? { pool } : {}).sort((a, b) => a.expiresAt - b.expiresAt);
  }

  /** The live lease of a VM, whoever holds it. */
  private anyLease(vmName: string): LeaseView {
    const vm = this.o.store.findVmByName(vmName.toLowerCase());
    const lease = vm && this.o.store.activeLeases({ pool: vm.pool }).find((l) => l.vmId === vm.id);
    if (!lease) {
      const close = suggest(vmName, this.o.store.activeLeases().map((l) => l.vm.name));
      throw new UserError('UNKNOWN_VM', `No VM called "${vmName}" is claimed at the moment.`, close ? `Did you mean ${close}? Every lease: admin leases` : 'Every lease: admin leases');
    }
    return lease;
  }

  /**
   * Ends anyone's lease now, once `confirmed`: the VM is destroyed and the pool refilled as on
   * expiry, and the holder is told who did it and why, in the same transaction.
   */
  adminRelease(audit: AdminCommandAudit, vmName: string, confirmed: boolean): { lease: LeaseView; released: boolean } {
    const lease = this.adminAudited(audit, () => this.anyLease(vmName), false);
    if (!confirmed) return { lease, released: false };
    this.adminAudited(audit, () => {
      const now = this.o.clock.now();
      if (!this.o.store.endLease(lease.id, 'admin', now)) {
        throw new UserError('NO_LEASE', `${lease.vm.name} is no longer claimed (released or expired just now).`, 'Every lease: admin leases');
      }
      const body = this.o.adminMessages?.released(lease, audit.who.account, audit.reason);
      if (body) this.queue(noticeFor('teardown', lease, body, now));
    }, true, { user: lease.user, vm: lease.vm.name });
    this.o.onChange(lease.user);
    return { lease, released: true };
  }

  /**
   * Extends anyone's lease by `byMs`, beyond the pool's extension limits but never past the
   * cap (claim to expiry); the holder is told. Extensions used are not counted.
   */
  adminExtend(audit: AdminCommandAudit, vmName: string, byMs: number): LeaseView {
    const lease = this.adminAudited(audit, () => this.anyLease(vmName), false);
    const cap = this.o.adminMaxLeaseMs ?? DEFAULT_ADMIN_MAX_LEASE_MS;
    const expiresAt = lease.expiresAt + byMs;
    const result = this.adminAudited(audit, () => {
      if (expiresAt - lease.claimedAt > cap) {
        const room = Math.max(0, lease.claimedAt + cap - lease.expiresAt);
        throw new UserError(
          'LEASE_CAP',
          `${lease.vm.name} would then last ${formatDuration(expiresAt - lease.claimedAt)} from its claim; admins may extend a lease to ${formatDuration(cap)} in all.`,
          room > 0 ? `At most: admin extend ${lease.vm.name} ${formatDuration(room).replace(/ /g, '')}` : 'It is at the cap already.',
        );
      }
      if (!this.o.store.extendLease(lease.id, expiresAt, lease.extensionsUsed, false)) {
        throw new UserError('NO_LEASE', `${lease.vm.name} changed while extending it (released or expired just now).`, 'Every lease: admin leases');
      }
      const extended = this.o.store.getLease(lease.id)!;
      const body = this.o.adminMessages?.extended(extended, audit.who.account, audit.reason, byMs);
      const now = this.o.clock.now();
      if (body) {
        this.queue({
          key: messageKey('extended', lease.id, String(expiresAt)),
          kind: 'extended',
          leaseId: lease.id,
          to: { platform: lease.platform, user: lease.user, conversation: lease.conversation },
          body,
          createdAt: now,
          deliverBy: now + DELIVER_WITHIN_MS,
        });
      }
      return extended;
    }, true, { user: lease.user, vm: lease.vm.name, by: formatDuration(byMs), expiresAt });
    this.o.onChange(lease.user);
    return result;
  }

  /** The pool's run-time changes: size override, drained, paused. */
  poolControl(poolName: string): { pool: PoolSpec; control: PoolControl } {
    const pool = this.pool(poolName);
    return { pool, control: this.o.store.poolControl(pool.name) };
  }

  /** Sets the warm size at run time (0 … max), or returns to the configured one (`null`). */
  resizePool(audit: AdminCommandAudit, poolName: string, size: number | null): { pool: PoolSpec; control: PoolControl; before: number } {
    const pool = this.adminAudited(audit, () => this.pool(poolName), false);
    const result = this.adminAudited(audit, () => {
      if (size !== null && (!Number.isInteger(size) || size < 0 || size > pool.max)) {
        throw new UserError('BAD_INPUT', `${pool.name} can keep 0 to ${pool.max} VMs warm (its maximum); ${size} is out of range.`, `e.g. admin resize ${pool.name} ${Math.min(pool.max, pool.size + 1)}`);
      }
      const control = this.o.store.poolControl(pool.name);
      const before = control.size ?? pool.size;
      const next = { ...control, size: size === null || size === pool.size ? null : size };
      this.o.store.savePoolControl(next);
      return { pool, control: next, before };
    }, true, { size: size ?? `reset to ${pool.size}` });
    this.o.onPoolChange?.();
    return result;
  }

  /** Closes a pool to new claims (its ready VMs are retired), or reopens it (`reason` null). */
  drainPool(audit: AdminCommandAudit, poolName: string, drain: boolean): { pool: PoolSpec; control: PoolControl; changed: boolean } {
    const pool = this.adminAudited(audit, () => this.pool(poolName), false);
    const result = this.adminAudited(audit, () => {
      const control = this.o.store.poolControl(pool.name);
      const next: PoolControl = drain
        ? { ...control, drained: { reason: audit.reason ?? 'no reason given', by: audit.who.account, at: this.o.clock.now() } }
        : { ...control, drained: null };
      const changed = Boolean(control.drained) !== drain || (drain && control.drained?.reason !== next.drained?.reason);
      this.o.store.savePoolControl(next);
      return { pool, control: next, changed };
    }, true);
    this.o.onPoolChange?.();
    return result;
  }

  /** The pool's circuit breaker now. */
  circuit(poolName: string): Circuit {
    if (!this.o.circuit) return { state: 'closed' };
    return circuitOf(this.o.store.poolHealth(poolName), this.o.clock.now(), this.o.circuit);
  }

  /** Freezes the reconciler for pools (no boots, no deletions), or lets it act again; resuming also closes an open circuit. */
  pausePools(audit: AdminCommandAudit, poolName: string, pause: boolean): { pools: PoolSpec[]; changed: string[] } {
    const pools = this.adminAudited(audit, () => (poolName.toLowerCase() === 'all' ? [...this.o.pools] : [this.pool(poolName)]), false);
    const result = this.adminAudited(audit, () => {
      const changed: string[] = [];
      for (const pool of pools) {
        const control = this.o.store.poolControl(pool.name);
        if (!pause && this.circuit(pool.name).state !== 'closed') {
          this.o.store.savePoolHealth(closedCircuit(this.o.store.poolHealth(pool.name)));
          if (!control.paused) changed.push(pool.name);
        }
        if (Boolean(control.paused) === pause) continue;
        this.o.store.savePoolControl({ ...control, paused: pause ? { by: audit.who.account, at: this.o.clock.now() } : null });
        changed.push(pool.name);
      }
      return { pools, changed };
    }, true, { pools: pools.map((p) => p.name) });
    this.o.onPoolChange?.();
    return result;
  }

  /**
   * Runs part of an admin use case. A refusal is written to the command's audit record; with
   * `commits`, so is success, in one transaction with the change.
   */
  private adminAudited<T>(audit: AdminCommandAudit, fn: () => T, commits: boolean, detail?: Record<string, unknown>): T {
    try {
      if (!commits) return fn();
      return this.o.store.transaction(() => {
        const result = fn();
        this.auditAdminCommand(audit, 'ok', detail);
        return result;
      });
    } catch (error) {
      audit.written = false;
      this.auditAdminCommand(audit, error instanceof UserError ? error.code : 'INTERNAL', detail);
      throw error;
    }
  }

  private queue(message: OutboxMessage): void {
    if (this.o.store.enqueueMessage(message)) setImmediate(() => this.o.onMessageQueued?.());
  }

  cloudStatus(): CloudStatus {
    return this.o.cloudStatus();
  }

  metrics(): MetricsSummary {
    return this.o.metrics?.() ?? { claimLatencyMs: null, emptyMs: new Map() };
  }

  /** For admins: a VM (deleted ones too) and the end of its last provisioning run's log. */
  async provisioningLog(vmName: string, maxLines = 40): Promise<{ vm: Vm; log: RunLog | undefined }> {
    const vm = this.o.store.findVmByName(vmName.toLowerCase());
    if (!vm) {
      const known = this.o.store.listVms().map((v) => v.name);
      const close = suggest(vmName, known);
      throw new UserError('UNKNOWN_VM', `There is no VM called "${vmName}".`, close ? `Did you mean ${close}?` : 'admin pools lists the pools; status lists your own VMs.');
    }
    return { vm, log: await this.o.runLog?.(vm.name, maxLines) };
  }

  /** Median creation-to-ready time of the pool's recent VMs, or the configured estimate. */
  typicalReadyMs(pool: PoolSpec): number {
    const recent = this.o.store.recentReadyTimesMs(pool.name, 9).sort((a, b) => a - b);
    return recent.length ? recent[Math.floor(recent.length / 2)]! : this.o.defaultReadyMs;
  }

  private countAll(): Map<string, PoolCounts> {
    const counts = new Map<string, PoolCounts>(
      this.o.pools.map((p) => [p.name, { ready: 0, booting: 0, provisioning: 0, claimed: 0, releasing: 0, failed: 0, total: 0 }]),
    );
    for (const vm of this.o.store.listVms()) {
      const c = counts.get(vm.pool);
      if (!c || vm.state === 'deleted') continue;
      c[vm.state as Exclude<VmState, 'deleted'>]++;
      c.total++;
    }
    return counts;
  }

  private emptyPoolError(pool: PoolSpec, now: number): UserError {
    const vms = this.o.store.listVms({ pool: pool.name });
    const status = this.o.cloudStatus();
    const typical = this.typicalReadyMs(pool);
    const coming = vms.filter((vm: Vm) => vm.state === 'booting' || vm.state === 'provisioning');
    const note = status.notes.get(pool.name);
    const circuit = this.circuit(pool.name);
    if (circuit.state !== 'closed' && coming.length === 0) {
      return new UserError(
        'POOL_FAILING',
        `No VM is ready in ${pool.name}, and none is being made: its last ${circuit.failures} VMs failed to start${circuit.lastError ? ` (${circuit.lastError})` : ''}, so the bot stopped booting it.`,
        `Ask ${pool.owner.name} (${pool.owner.contact}), who maintains its image.`,
      );
    }
    let when: string;
    if (coming.length > 0) {
      const eta = Math.max(Math.min(...coming.map((vm) => vm.createdAt + typical)), now + 5_000);
      when = `The next VM is expected in about ${formatDuration(eta - now)}.`;
    } else if (note) {
      when = `No new VM is on its way yet: the pool is ${note}.`;
    } else {
      when = `A new VM takes about ${formatDuration(typical)} to get ready.`;
    }
    if (status.lastError && coming.length === 0) {
      // Nothing can be made ready until the cloud answers again: say so rather than promise a time.
      return new UserError(
        'CLOUD_UNAVAILABLE',
        `No VM is ready in ${pool.name}, and the cloud is not answering at the moment, so no new one can be made ready until it is back.`,
        `Your request was not queued: try again in a few minutes with: claim ${pool.name}. Admins see the cloud's state in: admin pools`,
      );
    }
    const cloud = status.lastError ? ' The cloud is not answering at the moment, so the refill may take longer.' : '';
    return new UserError('POOL_EMPTY', `No VM is ready in ${pool.name} right now: the pool is refilling. ${when}${cloud}`, `Try again then: claim ${pool.name}`);
  }

  /** Runs a look-up that may refuse (unknown pool, someone else's VM) and audits a refusal. */
  private refusalAudited<T>(who: Principal, action: string, target: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      this.o.store.audit({ at: this.o.clock.now(), actor: who.account, action, target, result: error instanceof UserError ? error.code : 'INTERNAL' });
      throw error;
    }
  }

  /** Runs a use case and writes its outcome, success or refusal, to the audit trail. */
  private audited<T>(who: Principal, action: string, target: string, fn: () => T): T {
    const entry = { at: this.o.clock.now(), actor: who.account, action, target };
    try {
      // The audit record commits with the change it describes, or not at all.
      return this.o.store.transaction(() => {
        const result = fn();
        this.o.store.audit({ ...entry, result: 'ok' });
        return result;
      });
    } catch (error) {
      this.o.store.audit({ ...entry, result: error instanceof UserError ? error.code : 'INTERNAL' });
      throw error;
    }
  }
}

/** once, twice, 3 times: how a count of repetitions reads. */
function timesWord(count: number): string {
  return count === 1 ? 'once' : count === 2 ? 'twice' : `${count} times`;
}
