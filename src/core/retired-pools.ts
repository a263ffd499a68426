/**
 * Pools removed from the configuration while VMs of theirs are still about: retired. Their
 * ready, booting and provisioning VMs are deleted; their claimed VMs are honoured until their
 * leases end (never extended), then deleted like any other. Pure rules, used by the planner,
 * the service and the operator's views.
 */
import type { CloudServer } from '../ports/cloud.ts';
import type { Store } from '../ports/store.ts';
import { formatDuration } from './duration.ts';
import { UserError } from './errors.ts';
import type { LeaseView, PoolSpec, Vm } from './model.ts';
import type { Action } from './plan-pools.ts';

/** What admins read about such a pool, and why its VMs go. */
export const REMOVED_NOTE = 'removed from configuration';
export const RETIRE_REASON = 'its pool was removed from the configuration';

/** Pools that VMs still live in (anything not deleted) but the configuration no longer names, sorted. */
export function retiredPoolNames(configured: readonly Pick<PoolSpec, 'name'>[], vms: readonly Vm[]): string[] {
  const known = new Set(configured.map((p) => p.name));
  return [...new Set(vms.filter((vm) => vm.state !== 'deleted' && !known.has(vm.pool)).map((vm) => vm.pool))].sort();
}

/**
 * What to do with a VM of a retired pool: an action, `null` for nothing this tick, or
 * `undefined` to treat it as any VM (claimed, releasing, failed, or a server that is gone or
 * broken: the usual rules already end those well).
 */
export function planRetiredVm(vm: Vm, server: CloudServer | undefined, inFlight: { creating: ReadonlySet<string>; provisioning: ReadonlySet<string> }): Action | null | undefined {
  const alive = server !== undefined && server.status !== 'DELETED' && server.status !== 'ERROR';
  if (!alive) return undefined;
  switch (vm.state) {
    case 'ready':
      // Through `releasing`, as a VM a pool no longer needs: the deletion follows next tick.
      return { kind: 'retire', vm, reason: RETIRE_REASON };
    case 'booting':
      if (!vm.serverId || inFlight.creating.has(vm.id)) return undefined; // adopted first, deleted next tick
      return { kind: 'delete-server', vm, serverId: server.id, reason: RETIRE_REASON };
    case 'provisioning':
      // A run under way finishes first (the VM is then ready, and retired); a run lost with a
      // restart is not started again for a pool that is going.
      if (inFlight.provisioning.has(vm.id)) return null;
      return { kind: 'delete-server', vm, serverId: server.id, reason: RETIRE_REASON };
    default:
      return undefined;
  }
}

/** For admins and `reconcile --dry-run`: what is left of a retired pool and what happens to it. */
export function retiredPoolNote(pool: string, vms: readonly Vm[]): string {
  const mine = vms.filter((vm) => vm.pool === pool && vm.state !== 'deleted');
  const claimed = mine.filter((vm) => vm.state === 'claimed').length;
  const rest = mine.length - claimed;
  const kept = claimed ? `${claimed} claimed VM${claimed === 1 ? '' : 's'} kept until ${claimed === 1 ? 'its lease ends' : 'their leases end'} (no extensions)` : 'no claimed VM';
  return `${REMOVED_NOTE}: ${kept}${rest ? `; ${rest} other VM${rest === 1 ? '' : 's'} being deleted` : ''}`;
}

/**
 * A stand-in spec for a retired pool, where code needs one for a VM of it (the release play,
 * a holder's status): nothing to claim, nothing to extend, no size.
 */
export function retiredPoolSpec(pool: string, vm?: Pick<Vm, 'image' | 'flavor'>): PoolSpec {
  return {
    name: pool,
    description: REMOVED_NOTE,
    image: vm?.image ?? '',
    flavor: vm?.flavor ?? '',
    gpu: false,
    networks: [],
    size: 0,
    max: 0,
    leaseMs: 0,
    remindBeforeMs: [],
    extensionStepMs: 0,
    maxExtensions: 0,
    maxLeasesPerUser: 0,
    groups: [],
    connect: `address {address}, as before (pool ${pool} was removed from the configuration)`,
    owner: { name: 'the bot’s admins', contact: 'admin pools' },
  };
}

/** Why a lease of a retired pool cannot be extended, and when it ends. */
export function poolRetiredError(lease: LeaseView, now: number): UserError {
  return new UserError(
    'POOL_RETIRED',
    `${lease.vm.name} cannot be extended: its pool ${lease.pool} was removed from the configuration and is being retired. It will be torn down in ${formatDuration(Math.max(0, lease.expiresAt - now))}.`,
    'Save your work to your home directory: it is kept when the VM goes.',
  );
}

/** What is left of a retired pool, for admins: its VMs by state and its live leases, soonest expiry first. */
export interface RetiredPoolReport {
  pool: string;
  counts: { ready: number; booting: number; provisioning: number; claimed: number; releasing: number; failed: number; total: number };
  leases: LeaseView[];
  note: string;
}

export function retiredPoolReports(store: Pick<Store, 'listVms' | 'activeLeases'>, configured: readonly Pick<PoolSpec, 'name'>[]): RetiredPoolReport[] {
  const vms = store.listVms();
  return retiredPoolNames(configured, vms).map((pool) => {
    const mine = vms.filter((vm) => vm.pool === pool && vm.state !== 'deleted');
    const count = (state: Vm['state']) => mine.filter((vm) => vm.state === state).length;
    return {
      pool,
      counts: { ready: count('ready'), booting: count('booting'), provisioning: count('provisioning'), claimed: count('claimed'), releasing: count('releasing'), failed: count('failed'), total: mine.length },
      leases: store.activeLeases({ pool }).sort((a, b) => a.expiresAt - b.expiresAt),
      note: retiredPoolNote(pool, vms),
    };
  });
}
