import test from 'ava';
import type { LeaseView, PoolSpec, Vm } from '../../src/core/model.ts';
import { planLeases } from '../../src/core/plan-leases.ts';
import { META, planPools, type ObservedWorld } from '../../src/core/plan-pools.ts';
import { planRetiredVm, retiredPoolNames, retiredPoolNote, retiredPoolSpec, RETIRE_REASON } from '../../src/core/retired-pools.ts';
import type { CloudServer, ServerStatus } from '../../src/ports/cloud.ts';
import { NOW, pool, vm } from '../helpers/planner-fixtures.ts';

const server = (v: Vm, status: ServerStatus = 'ACTIVE'): CloudServer => ({
  id: v.serverId ?? `srv-${v.id}`, name: v.name, status, fault: null, address: '10.0.0.1', image: 'i', flavor: 'f', metadata: { [META.vm]: v.id, [META.pool]: v.pool }, tags: ['daaas:t'], createdAt: v.createdAt,
});
function world(vms: Vm[], over: Partial<ObservedWorld> = {}): ObservedWorld {
  return {
    now: NOW, pools: [pool('a', 1, 4)], vms, servers: vms.map((v) => server(v)), creating: new Set(), provisioning: new Set(), health: new Map(), capacity: null,
    coresPerVm: new Map([['a', 2]]), settings: { readinessTimeoutMs: 600_000, failedRetentionMs: 300_000, maxConcurrentBoots: 10 }, ...over,
  };
}

test('a pool is retired when VMs live in it and the configuration no longer names it; deleted VMs do not count', (t) => {
  t.deepEqual(retiredPoolNames([pool('a', 1, 1)], [vm('a', 'ready'), vm('gone', 'claimed'), vm('old', 'deleted'), vm('gone', 'ready'), vm('b', 'failed')]), ['b', 'gone']);
  t.deepEqual(retiredPoolNames([pool('a', 1, 1)], [vm('a', 'ready')]), []);
});

test('a retired pool: its ready, booting and provisioning VMs go, its claimed VM stays, nothing is booted for it', (t) => {
  const ready = vm('gone', 'ready');
  const booting = vm('gone', 'booting');
  const provisioning = vm('gone', 'provisioning');
  const claimed = vm('gone', 'claimed');
  const own = vm('a', 'ready');
  const plan = planPools(world([ready, booting, provisioning, claimed, own]));
  const about = (v: Vm) => plan.actions.filter((a) => 'vm' in a && a.vm?.id === v.id).map((a) => `${a.kind}${'reason' in a ? `: ${a.reason}` : ''}`);
  t.deepEqual(about(ready), [`retire: ${RETIRE_REASON}`]);
  t.deepEqual(about(booting), [`delete-server: ${RETIRE_REASON}`]);
  t.deepEqual(about(provisioning), [`delete-server: ${RETIRE_REASON}`]);
  t.deepEqual(about(claimed), [], 'a claimed VM is honoured');
  t.deepEqual(about(own), []);
  t.false(plan.actions.some((a) => a.kind === 'create'), 'pool a is full; nothing is booted for the retired pool');
  t.is(plan.notes.get('gone'), 'removed from configuration: 1 claimed VM kept until its lease ends (no extensions); 3 other VMs being deleted');
});

test('a retired VM whose provisioning run is under way waits for it; one being created is adopted first', (t) => {
  const provisioning = vm('gone', 'provisioning');
  t.is(planRetiredVm(provisioning, server(provisioning), { creating: new Set(), provisioning: new Set([provisioning.id]) }), null);
  const unadopted = vm('gone', 'booting', { serverId: null });
  t.is(planRetiredVm(unadopted, server(unadopted), { creating: new Set(), provisioning: new Set() }), undefined);
  const plan = planPools(world([unadopted]));
  t.deepEqual(plan.actions.map((a) => a.kind), ['adopt', 'create'], 'adopted as usual (and pool a filled); deleted on the next tick');
});

test('the usual rules still end a retired pool’s claimed VM that died, and its released and failed VMs', (t) => {
  const lost = vm('gone', 'claimed');
  const releasing = vm('gone', 'releasing');
  const failed = vm('gone', 'failed', { stateSince: NOW - 600_000 });
  const broken = vm('gone', 'ready');
  const w = world([lost, releasing, failed, broken], { pools: [] });
  w.servers = [server(releasing), server(failed), server(broken, 'ERROR')];
  const byVm = new Map(planPools(w).actions.map((a) => ['vm' in a && a.vm ? a.vm.id : '', a.kind]));
  t.is(byVm.get(lost.id), 'lost');
  t.is(byVm.get(releasing.id), 'delete-server');
  t.is(byVm.get(failed.id), 'delete-server');
  t.is(byVm.get(broken.id), 'fail');
});

test('a paused retired pool is left alone like any paused pool', (t) => {
  const ready = vm('gone', 'ready');
  t.deepEqual(planPools(world([ready], { pools: [], paused: new Set(['gone']) })).actions, []);
});

test('the note says what is left; the stand-in spec allows nothing', (t) => {
  t.is(retiredPoolNote('gone', [vm('gone', 'claimed'), vm('gone', 'claimed')]), 'removed from configuration: 2 claimed VMs kept until their leases end (no extensions)');
  t.is(retiredPoolNote('gone', [vm('gone', 'ready')]), 'removed from configuration: no claimed VM; 1 other VM being deleted');
  const spec = retiredPoolSpec('gone', { image: 'img', flavor: 'fl' });
  t.like(spec, { name: 'gone', size: 0, max: 0, maxExtensions: 0, image: 'img', flavor: 'fl' });
});

test('leases of a retired pool: no reminders, one notice unless told already, and they still expire', (t) => {
  const pools = new Map([['a', { name: 'a', remindBeforeMs: [3_600_000] } as PoolSpec]]);
  const lease = (id: string, p: string, expiresAt: number) => ({ id, pool: p, expiresAt }) as LeaseView;
  const leases = [lease('l1', 'gone', NOW + 60_000), lease('l2', 'gone', NOW + 60_000), lease('l3', 'gone', NOW - 1), lease('l4', 'a', NOW + 60_000)];
  const actions = planLeases(leases, pools, [], NOW, new Set(['l2']));
  t.deepEqual(actions.map((a) => `${a.kind} ${a.lease.id}`), ['retiring l1', 'expire l3', 'remind l4']);
});
