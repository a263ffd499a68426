import type { ExecutionContext } from 'ava';
import type { Harness } from './harness.ts';

/** The store and the cloud agree: no leaked server, no record without a server, no double lease. */
export async function assertConsistent(t: ExecutionContext, h: Harness): Promise<void> {
  const servers = await h.cloud.listServers(h.app.reconciler.tag);
  const vms = h.store.listVms();
  const live = new Map(vms.map((vm) => [vm.id, vm]));
  for (const server of servers) {
    t.truthy(live.get(server.metadata['daaas:vm'] ?? ''), `server ${server.name} has no live record (leaked)`);
  }
  const serverIds = new Set(servers.map((s) => s.id));
  for (const vm of vms) {
    if (vm.serverId) t.true(serverIds.has(vm.serverId), `${vm.name} (${vm.state}) points at a server that does not exist`);
  }
  const leased = h.store.activeLeases().map((l) => l.vmId);
  t.is(new Set(leased).size, leased.length, 'a VM is in two live leases');
  for (const lease of h.store.activeLeases()) t.is(lease.vm.state, 'claimed', `${lease.vm.name} is leased but ${lease.vm.state}`);
}

/** Every pool holds exactly its size of ready VMs. */
export function assertFull(t: ExecutionContext, h: Harness): void {
  for (const pool of h.config.pools) {
    t.is(h.store.listVms({ pool: pool.name, states: ['ready'] }).length, pool.size, `pool ${pool.name} is not full`);
  }
}
