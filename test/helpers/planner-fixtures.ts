/** The planners' tests' fixtures: a fixed now, and pools and VMs with only the fields a plan reads. */
import type { PoolSpec, Vm, VmState } from '../../src/core/model.ts';

export const NOW = 1_000_000_000;

export const pool = (name: string, size: number, max: number): PoolSpec => ({ name, size, max, flavor: 'f' }) as PoolSpec;

let n = 0;
/** A VM of `pool` in `state`, numbered in order of making (vm1, pool-1, srv1 …). */
export const vm = (pool: string, state: VmState, extra: Partial<Vm> = {}): Vm => {
  n++;
  return { id: `vm${n}`, name: `${pool}-${n}`, pool, state, serverId: `srv${n}`, address: null, image: 'i', flavor: 'f', createdAt: NOW - 1_000, stateSince: NOW - 1_000, readyAt: null, detail: null, ...extra };
};
