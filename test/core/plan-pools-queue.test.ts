import test from 'ava';
import type { PoolSpec, Vm, VmState } from '../../src/core/model.ts';
import { META, planPools, type ObservedWorld } from '../../src/core/plan-pools.ts';
import type { CloudServer } from '../../src/ports/cloud.ts';

const NOW = 1_000_000_000;
const pool = (size: number, max: number): PoolSpec => ({ name: 'a', size, max, flavor: 'f' }) as PoolSpec;
let n = 0;
const vm = (state: VmState): Vm => {
  n++;
  return { id: `vm${n}`, name: `a-${n}`, pool: 'a', state, serverId: `srv${n}`, address: null, image: 'i', flavor: 'f', createdAt: NOW - 1_000 + n, stateSince: NOW - 1_000, readyAt: null, detail: null };
};
const server = (v: Vm): CloudServer => ({ id: v.serverId!, name: v.name, status: 'ACTIVE', fault: null, address: '10.0.0.1', image: 'i', flavor: 'f', metadata: { [META.vm]: v.id }, tags: [], createdAt: v.createdAt });

function world(over: Partial<ObservedWorld>): ObservedWorld {
  return {
    now: NOW, pools: [pool(5, 60)], vms: [], servers: [], creating: new Set(), provisioning: new Set(), health: new Map(), capacity: null,
    coresPerVm: new Map([['a', 2]]), settings: { readinessTimeoutMs: 600_000, failedRetentionMs: 300_000, maxConcurrentBoots: 20 }, ...over,
  };
}
const count = (w: ObservedWorld, kind: string) => planPools(w).actions.filter((a) => a.kind === kind).length;

test('a pool boots for its size plus the people waiting, within the boot budget', (t) => {
  t.is(count(world({ queued: new Map([['a', 12]]) }), 'create'), 17);
  t.is(count(world({ queued: new Map([['a', 200]]) }), 'create'), 20, 'maxConcurrentBoots 20');
});

test('never beyond max, nor the quota', (t) => {
  t.is(count(world({ pools: [pool(5, 8)], queued: new Map([['a', 50]]) }), 'create'), 8);
  t.is(count(world({ queued: new Map([['a', 50]]), capacity: { instances: 3, cores: 100 } }), 'create'), 3);
  t.regex(planPools(world({ pools: [pool(5, 8)], queued: new Map([['a', 50]]), vms: Array.from({ length: 8 }, () => vm('claimed')) })).notes.get('a') ?? '', /at its maximum of 8/);
});

test('nothing grows while the circuit is open', (t) => {
  const health = new Map([['a', { pool: 'a', lastError: 'x', lastErrorAt: NOW - 1, consecutiveFailures: 3, backoffUntil: null }]]);
  const settings = { readinessTimeoutMs: 600_000, failedRetentionMs: 300_000, maxConcurrentBoots: 20, circuit: { failureLimit: 3, circuitRetryMs: 600_000 } };
  t.is(count(world({ queued: new Map([['a', 10]]), health, settings }), 'create'), 0);
});

test('VMs held for waiters count as the pool’s and are never retired; unclaimed extras beyond size are', (t) => {
  const ready = Array.from({ length: 8 }, () => vm('ready'));
  const servers = ready.map(server);
  const held = new Set(ready.slice(5).map((v) => v.id)); // the newest three, the first a retirement would pick
  const plan = planPools(world({ vms: ready, servers, queued: new Map([['a', 1]]), held }));
  const retired = plan.actions.filter((a) => a.kind === 'retire').map((a) => (a as { vm: Vm }).vm.id);
  t.is(retired.length, 2, '8 ready, size 5 + 1 waiting');
  t.false(retired.some((id) => held.has(id)));
  t.is(count(world({ vms: ready, servers, queued: new Map([['a', 3]]), held }), 'retire'), 0, 'all 8 needed: 5 warm, 3 for the waiters');
});

test('a drained pool does not grow with its queue', (t) => {
  t.is(count(world({ pools: [{ ...pool(0, 60) }], drained: new Set(['a']), queued: new Map([['a', 10]]) }), 'create'), 0);
});
