/**
 * What users and admins do with what the activity monitor saw: a holder keeps an idle VM
 * (Keep it), admins see idle hours and busy flags per lease and per pool.
 */
import type { LeaseActivity } from '../ports/activity.ts';
import { currentActivity, describeJob, idleForMs, rulesOf, type Activity } from './activity.ts';
import { UserError } from './errors.ts';
import type { LeaseView, Principal } from './model.ts';
import type { DaaasService } from './service.ts';
import type { ServiceOptions } from './service-types.ts';

/** One lease's activity as admins see it. */
export interface LeaseActivityView {
  activity: Activity;
  /** Idle without a break until now, or 0. */
  idleForMs: number;
  /** Idle time counted over the whole lease. */
  idleTotalMs: number;
  /** The job running, when busy. */
  job: string | null;
  /** When the latest probe ran (null: never). */
  probedAt: number | null;
  graceUntil: number | null;
}

/** A pool's claimed VMs by activity, for `admin pools`. */
export interface PoolActivityView {
  busy: number;
  inUse: number;
  idle: number;
  unknown: number;
  /** Idle time of its live leases, summed. */
  idleMs: number;
}

export class ActivityActions {
  constructor(
    private readonly options: ServiceOptions,
    private readonly service: DaaasService,
  ) {}

  /** Keep it: no idle question about the holder's VM until it is idle for another idle period. */
  keep(who: Principal, vmName: string | undefined): { lease: LeaseView; quietForMs: number } {
    const now = this.options.clock.now();
    const entry = { at: now, actor: who.account, action: 'keep' };
    let lease: LeaseView;
    try {
      lease = this.service.target(who, vmName, 'keep');
      if (!this.options.activity) throw new UserError('BAD_INPUT', 'This bot does not watch whether VMs are in use, so it never asks about idle ones: there is nothing to keep.');
    } catch (error) {
      this.options.store.audit({ ...entry, target: vmName ?? '-', result: error instanceof UserError ? error.code : 'INTERNAL' });
      throw error;
    }
    const store = this.options.activity;
    const pool = this.service.pool(lease.pool);
    this.options.store.transaction(() => {
      const record: LeaseActivity = store.leaseActivity(lease.id) ?? { leaseId: lease.id, pool: lease.pool, lastProbeAt: null, lastReport: null, lastError: null, idleSince: null, idleMs: 0, promptedAt: null, keptAt: null, grace: null };
      store.saveLeaseActivity({ ...record, keptAt: now });
      // A question not delivered yet is pointless now.
      this.options.store.supersedeMessages(lease.id, 'idle', now);
      this.options.store.audit({ ...entry, target: lease.vm.name, result: 'ok' });
    });
    return { lease, quietForMs: rulesOf(pool).idleAfterMs };
  }

  /** What the latest probes say of these leases, by lease id (leases never probed are unknown). */
  leases(leases: readonly LeaseView[]): Map<string, LeaseActivityView> {
    const now = this.options.clock.now();
    const out = new Map<string, LeaseActivityView>();
    for (const lease of leases) {
      const record = this.options.activity?.leaseActivity(lease.id);
      const activity = currentActivity(record);
      out.set(lease.id, {
        activity,
        idleForMs: idleForMs(record, now),
        idleTotalMs: record?.idleMs ?? 0,
        job: activity === 'busy' ? describeJob(record!.lastReport!) : null,
        probedAt: record?.lastProbeAt ?? null,
        graceUntil: record?.grace?.until ?? null,
      });
    }
    return out;
  }

  /** Per pool: its claimed VMs busy, in use, idle and unknown, and their idle time. */
  pools(): Map<string, PoolActivityView> {
    const out = new Map<string, PoolActivityView>(this.options.pools.map((p) => [p.name, { busy: 0, inUse: 0, idle: 0, unknown: 0, idleMs: 0 }]));
    const leases = this.options.store.activeLeases();
    for (const [id, view] of this.leases(leases)) {
      const pool = out.get(leases.find((l) => l.id === id)!.pool);
      if (!pool) continue;
      if (view.activity === 'busy') pool.busy++;
      else if (view.activity === 'in-use') pool.inUse++;
      else if (view.activity === 'idle') pool.idle++;
      else pool.unknown++;
      pool.idleMs += view.idleTotalMs;
    }
    return out;
  }
}
