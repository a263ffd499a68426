/**
 * What admins do: see every pool and lease, end or extend anyone's lease, resize, drain and
 * pause pools. Each action is audited with the admin, its target and reason, in the
 * transaction of its change; holders are told through the outbox.
 */
import { closedCircuit } from './circuit.ts';
import { formatDuration } from './duration.ts';
import { UserError } from './errors.ts';
import type { LeaseView, PoolControl, PoolSpec, Principal } from './model.ts';
import { DELIVER_WITHIN_MS, messageKey, noticeFor } from './outbox.ts';
import type { OutboxMessage } from '../ports/outbox.ts';
import type { DaaasService } from './service.ts';
import { type AdminCommandAudit, DEFAULT_ADMIN_MAX_LEASE_MS, type PoolAdminReport, type ServiceOptions } from './service-types.ts';
import { retiredPoolNames, retiredPoolReports, type RetiredPoolReport } from './retired-pools.ts';
import { suggest } from './suggest.ts';

export class AdminActions {
  constructor(
    private readonly options: ServiceOptions,
    private readonly service: DaaasService,
  ) {}

  report(who: Principal): PoolAdminReport[] {
    const status = this.options.cloudStatus();
    return this.service.overview(who).map((o) => {
      const circuit = this.service.circuit(o.pool.name);
      return {
        ...o,
        health: this.options.store.poolHealth(o.pool.name),
        circuit,
        failures: circuit.state === 'closed' ? [] : this.lastFailures(o.pool.name),
        note: status.notes.get(o.pool.name) ?? null,
        oldestLease: this.options.store.activeLeases({ pool: o.pool.name }).sort((a, b) => a.claimedAt - b.claimedAt)[0] ?? null,
        typicalReadyMs: this.service.typicalReadyMs(o.pool),
      };
    });
  }

  /** The pool's last VMs that failed before they were ever ready (failed, or forgotten since), newest first. */
  private lastFailures(pool: string): { vm: string; error: string; at: number; booted: boolean }[] {
    return this.options.store
      .listVms({ pool, states: ['failed', 'deleted'] })
      .filter((vm) => vm.detail && vm.readyAt === null)
      .sort((a, b) => b.stateSince - a.stateSince)
      .slice(0, 3)
      .map((vm) => ({ vm: vm.name, error: vm.detail!, at: vm.stateSince, booted: vm.serverId !== null }));
  }

  /** Pools removed from the configuration with VMs left, and what is left of each (retired-pools.ts). */
  retiredPools(): RetiredPoolReport[] {
    return retiredPoolReports(this.options.store, this.options.pools);
  }

  /** Every live lease, of one pool or all, soonest expiry first. */
  leases(poolName: string | undefined): LeaseView[] {
    // A pool removed from the configuration still has its leases to show, until they end.
    const retired = poolName !== undefined && retiredPoolNames(this.options.pools, this.options.store.listVms()).includes(poolName.toLowerCase());
    const pool = poolName === undefined ? undefined : retired ? poolName.toLowerCase() : this.service.pool(poolName).name;
    return this.options.store.activeLeases(pool ? { pool } : {}).sort((a, b) => a.expiresAt - b.expiresAt);
  }

  /** The live lease of a VM, whoever holds it. */
  private anyLease(vmName: string): LeaseView {
    const vm = this.options.store.findVmByName(vmName.toLowerCase());
    const lease = vm && this.options.store.activeLeases({ pool: vm.pool }).find((l) => l.vmId === vm.id);
    if (!lease) {
      const close = suggest(vmName, this.options.store.activeLeases().map((l) => l.vm.name));
      throw new UserError('UNKNOWN_VM', `No VM called "${vmName}" is claimed at the moment.`, close ? `Did you mean ${close}? Every lease: admin leases` : 'Every lease: admin leases');
    }
    return lease;
  }

  /**
   * Ends anyone's lease now, once `confirmed`: the VM is destroyed and the pool refilled as on
   * expiry, and the holder is told who did it and why, in the same transaction.
   */
  release(audit: AdminCommandAudit, vmName: string, confirmed: boolean): { lease: LeaseView; released: boolean } {
    const lease = this.audited(audit, () => this.anyLease(vmName), false);
    if (!confirmed) return { lease, released: false };
    this.audited(audit, () => {
      const now = this.options.clock.now();
      if (!this.options.store.endLease(lease.id, 'admin', now)) {
        throw new UserError('NO_LEASE', `${lease.vm.name} is no longer claimed (released or expired just now).`, 'Every lease: admin leases');
      }
      const body = this.options.adminMessages?.released(lease, audit.who.account, audit.reason);
      if (body) this.queue(noticeFor('teardown', lease, body, now));
    }, true, { user: lease.user, vm: lease.vm.name });
    this.options.onChange(lease.user);
    return { lease, released: true };
  }

  /**
   * Extends anyone's lease by `byMs`, beyond the pool's extension limits but never past the
   * cap (claim to expiry); the holder is told. Extensions used are not counted.
   */
  extend(audit: AdminCommandAudit, vmName: string, byMs: number): LeaseView {
    const lease = this.audited(audit, () => this.anyLease(vmName), false);
    this.audited(audit, () => this.service.livePool(lease), false);
    const cap = this.options.adminMaxLeaseMs ?? DEFAULT_ADMIN_MAX_LEASE_MS;
    const expiresAt = lease.expiresAt + byMs;
    const result = this.audited(audit, () => {
      if (expiresAt - lease.claimedAt > cap) {
        const room = Math.max(0, lease.claimedAt + cap - lease.expiresAt);
        throw new UserError(
          'LEASE_CAP',
          `${lease.vm.name} would then last ${formatDuration(expiresAt - lease.claimedAt)} from its claim; admins may extend a lease to ${formatDuration(cap)} in all.`,
          room > 0 ? `At most: admin extend ${lease.vm.name} ${formatDuration(room).replace(/ /g, '')}` : 'It is at the cap already.',
        );
      }
      if (!this.options.store.extendLease(lease.id, expiresAt, lease.extensionsUsed, false)) {
        throw new UserError('NO_LEASE', `${lease.vm.name} changed while extending it (released or expired just now).`, 'Every lease: admin leases');
      }
      const extended = this.options.store.getLease(lease.id)!;
      const body = this.options.adminMessages?.extended(extended, audit.who.account, audit.reason, byMs);
      const now = this.options.clock.now();
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
    this.options.onChange(lease.user);
    return result;
  }

  /** The pool's run-time changes: size override, drained, paused. */
  control(poolName: string): { pool: PoolSpec; control: PoolControl } {
    const pool = this.service.pool(poolName);
    return { pool, control: this.options.store.poolControl(pool.name) };
  }

  /** Sets the warm size at run time (0 … max), or returns to the configured one (`null`). */
  resize(audit: AdminCommandAudit, poolName: string, size: number | null): { pool: PoolSpec; control: PoolControl; before: number; after: number } {
    const pool = this.audited(audit, () => this.service.pool(poolName), false);
    const result = this.audited(audit, () => {
      if (size !== null && (!Number.isInteger(size) || size < 0 || size > pool.max)) {
        throw new UserError('BAD_INPUT', `${pool.name} can keep 0 to ${pool.max} VMs warm (its maximum); ${size} is out of range.`, `e.g. admin resize ${pool.name} ${Math.min(pool.max, pool.size + 1)}`);
      }
      const control = this.options.store.poolControl(pool.name);
      const now = this.options.clock.now();
      const before = this.service.sizes.at(pool, { ...control, drained: null }, now).size;
      // The configured size again is a reset, unless a schedule would then give another.
      const reset = size === null || (size === pool.size && !pool.schedule?.length);
      const next: PoolControl = { ...control, size: reset ? null : size, sizeBy: reset ? null : { by: audit.who.account, at: now } };
      this.options.store.savePoolControl(next);
      return { pool, control: next, before, after: this.service.sizes.at(pool, { ...next, drained: null }, now).size };
    }, true, { size: size ?? `reset to ${pool.size}` });
    this.options.onPoolChange?.();
    return result;
  }

  /** Closes a pool to new claims (its ready VMs are retired), or reopens it (`reason` null). */
  drain(audit: AdminCommandAudit, poolName: string, drain: boolean): { pool: PoolSpec; control: PoolControl; changed: boolean } {
    const pool = this.audited(audit, () => this.service.pool(poolName), false);
    const result = this.audited(audit, () => {
      const control = this.options.store.poolControl(pool.name);
      const next: PoolControl = drain
        ? { ...control, drained: { reason: audit.reason ?? 'no reason given', by: audit.who.account, at: this.options.clock.now() } }
        : { ...control, drained: null };
      const changed = Boolean(control.drained) !== drain || (drain && control.drained?.reason !== next.drained?.reason);
      this.options.store.savePoolControl(next);
      return { pool, control: next, changed };
    }, true);
    this.options.onPoolChange?.();
    return result;
  }

  /** Freezes the reconciler for pools (no boots, no deletions), or lets it act again; resuming also closes an open circuit. */
  pause(audit: AdminCommandAudit, poolName: string, pause: boolean): { pools: PoolSpec[]; changed: string[] } {
    const pools = this.audited(audit, () => (poolName.toLowerCase() === 'all' ? [...this.options.pools] : [this.service.pool(poolName)]), false);
    const result = this.audited(audit, () => {
      const changed: string[] = [];
      for (const pool of pools) {
        const control = this.options.store.poolControl(pool.name);
        if (!pause && this.service.circuit(pool.name).state !== 'closed') {
          this.options.store.savePoolHealth(closedCircuit(this.options.store.poolHealth(pool.name)));
          if (!control.paused) changed.push(pool.name);
        }
        if (Boolean(control.paused) === pause) continue;
        this.options.store.savePoolControl({ ...control, paused: pause ? { by: audit.who.account, at: this.options.clock.now() } : null });
        changed.push(pool.name);
      }
      return { pools, changed };
    }, true, { pools: pools.map((p) => p.name) });
    this.options.onPoolChange?.();
    return result;
  }

  /**
   * Runs part of an admin use case. A refusal is written to the command's audit record; with
   * `commits`, so is success, in one transaction with the change.
   */
  private audited<T>(audit: AdminCommandAudit, fn: () => T, commits: boolean, detail?: Record<string, unknown>): T {
    try {
      if (!commits) return fn();
      return this.options.store.transaction(() => {
        const result = fn();
        this.service.auditAdminCommand(audit, 'ok', detail);
        return result;
      });
    } catch (error) {
      audit.written = false;
      this.service.auditAdminCommand(audit, error instanceof UserError ? error.code : 'INTERNAL', detail);
      throw error;
    }
  }

  private queue(message: OutboxMessage): void {
    if (this.options.store.enqueueMessage(message)) setImmediate(() => this.options.onMessageQueued?.());
  }
}
