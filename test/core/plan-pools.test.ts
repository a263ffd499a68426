import test from 'ava';
import type { Vm, PoolSpec, VmState } from '../../src/core/model.ts';
import { META, planPools, type ObservedWorld } from '../../src/core/plan-pools.ts';
import type { CloudServer, ServerStatus } from '../../src/ports/cloud.ts';
import { NOW, pool, vm } from '../helpers/planner-fixtures.ts';

const server = (v: Vm, status: ServerStatus = 'ACTIVE', fault: string | null = null): CloudServer => ({
  id: v.serverId ?? `srv-${v.id}`,
  name: v.name,
  status,
  fault,
  address: '10.0.0.1',
  image: 'i',
  flavor: 'f',
  metadata: { [META.vm]: v.id },
  tags: ['daaas:t'],
  createdAt: v.createdAt,
});

function world(over: Partial<ObservedWorld>): ObservedWorld {
  return {
    now: NOW,
    pools: [pool('a', 2, 4)],
    vms: [],
    servers: [],
    creating: new Set(),
    provisioning: new Set(),
    health: new Map(),
    capacity: null,
    coresPerVm: new Map([['a', 2], ['b', 2]]),
    settings: { readinessTimeoutMs: 600_000, failedRetentionMs: 300_000, maxConcurrentBoots: 10 },
    ...over,
  };
}
const kinds = (w: ObservedWorld) => planPools(w).actions.map((a) => a.kind);

test('an empty pool boots up to its size', (t) => {
  t.deepEqual(kinds(world({})), ['create', 'create']);
});

test('planning is pure and repeatable: the same world gives the same plan', (t) => {
  const w = world({ vms: [vm('a', 'ready')] });
  t.deepEqual(kinds(w), kinds(w));
});

test('VMs on their way count towards the size; claimed ones towards the maximum', (t) => {
  const booting = vm('a', 'booting');
  t.deepEqual(kinds(world({ vms: [booting], servers: [server(booting, 'BUILD')] })), ['create']);
  const claimed = [vm('a', 'claimed'), vm('a', 'claimed'), vm('a', 'claimed')];
  const plan = planPools(world({ vms: claimed, servers: claimed.map((v) => server(v)) }));
  t.deepEqual(plan.actions.map((a) => a.kind), ['create'], 'only one more fits under max 4');
});

test('the boot budget is shared fairly between pools', (t) => {
  const w = world({ pools: [pool('a', 5, 10), pool('b', 5, 10)], settings: { readinessTimeoutMs: 1, failedRetentionMs: 1, maxConcurrentBoots: 4 } });
  const creates = planPools(w).actions.map((a) => (a.kind === 'create' ? a.pool : '')).sort();
  t.deepEqual(creates, ['a', 'a', 'b', 'b']);
  t.regex(planPools(w).notes.get('a') ?? '', /waiting for a boot slot/);
});

test('quota: no boot past the instances or cores the cloud allows, and a note says why', (t) => {
  const plan = planPools(world({ capacity: { instances: 1, cores: 100 } }));
  t.deepEqual(plan.actions.map((a) => a.kind), ['create']);
  t.regex(plan.notes.get('a') ?? '', /quota exhausted/);
  t.deepEqual(kinds(world({ capacity: { instances: 10, cores: 1 } })), []);
});

test('a pool in back-off boots nothing until it ends', (t) => {
  const health = new Map([['a', { pool: 'a', lastError: 'x', lastErrorAt: NOW, consecutiveFailures: 2, backoffUntil: NOW + 1 }]]);
  t.deepEqual(kinds(world({ health })), []);
  t.deepEqual(kinds(world({ health, now: NOW + 1 })), ['create', 'create']);
});

test('each VM state meets its server: provision, fail, lose, delete, forget, adopt', (t) => {
  const p = [pool('a', 0, 10)];
  const active = vm('a', 'booting');
  t.deepEqual(kinds(world({ pools: p, vms: [active], servers: [server(active)] })), ['provision']);
  const errored = vm('a', 'booting');
  t.deepEqual(kinds(world({ pools: p, vms: [errored], servers: [server(errored, 'ERROR', 'boom')] })), ['fail']);
  const slow = vm('a', 'booting', { createdAt: NOW - 700_000 });
  t.deepEqual(kinds(world({ pools: p, vms: [slow], servers: [server(slow, 'BUILD')] })), ['fail']);
  const neverCreated = vm('a', 'booting', { serverId: null });
  t.deepEqual(kinds(world({ pools: p, vms: [neverCreated] })), ['forget']);
  t.deepEqual(kinds(world({ pools: p, vms: [neverCreated], creating: new Set([neverCreated.id]) })), [], 'creation under way');
  const unrecorded = vm('a', 'booting', { serverId: null });
  t.deepEqual(kinds(world({ pools: p, vms: [unrecorded], servers: [{ ...server(unrecorded), id: 'found' }] })), ['adopt']);
  const claimed = vm('a', 'claimed');
  t.deepEqual(kinds(world({ pools: p, vms: [claimed] })), ['lost']);
  const releasing = vm('a', 'releasing');
  t.deepEqual(kinds(world({ pools: p, vms: [releasing], servers: [server(releasing)] })), ['delete-server']);
  t.deepEqual(kinds(world({ pools: p, vms: [releasing] })), ['forget']);
  const provisioning = vm('a', 'provisioning');
  t.deepEqual(kinds(world({ pools: p, vms: [provisioning], servers: [server(provisioning)] })), ['provision'], 'a run lost in a crash is started again');
  t.deepEqual(kinds(world({ pools: p, vms: [provisioning], servers: [server(provisioning)], provisioning: new Set([provisioning.id]) })), []);
});

test('failed VMs are kept for diagnosis, then deleted', (t) => {
  const p = [pool('a', 0, 10)];
  const failed = vm('a', 'failed', { stateSince: NOW - 1_000 });
  t.deepEqual(kinds(world({ pools: p, vms: [failed], servers: [server(failed, 'ERROR')] })), []);
  const old = vm('a', 'failed', { stateSince: NOW - 300_000 });
  t.deepEqual(kinds(world({ pools: p, vms: [old], servers: [server(old, 'ERROR')] })), ['delete-server']);
});

test('servers of ours the store does not know are deleted; spare ready VMs retired', (t) => {
  const ghost = vm('a', 'ready');
  const plan = planPools(world({ pools: [pool('a', 0, 10)], servers: [server(ghost)] }));
  t.deepEqual(plan.actions.map((a) => a.kind), ['delete-server']);
  const ready = [vm('a', 'ready'), vm('a', 'ready'), vm('a', 'ready')];
  const retire = planPools(world({ pools: [pool('a', 1, 10)], vms: ready, servers: ready.map((v) => server(v)) })).actions;
  t.deepEqual(retire.map((a) => (a.kind === 'retire' ? a.vm.id : a.kind)), [ready[2]!.id, ready[1]!.id], 'the newest go, the oldest stays');
});

test('a server already being deleted is not deleted again, even if the store forgot it', (t) => {
  const gone = vm('a', 'deleted');
  const stranger = { ...server(gone, 'DELETED'), metadata: { [META.vm]: 'forgotten' } };
  t.deepEqual(kinds(world({ vms: [vm('a', 'ready'), vm('a', 'ready')], servers: [stranger] })).filter((k) => k === 'delete-server'), []);
});

test('ready VMs on an older image are replaced: current ones boot first, each stale one retires once a current one stands in', (t) => {
  const stale = [vm('a', 'ready'), vm('a', 'ready')];
  const servers = stale.map((v) => server(v));
  const current = new Map([['a', 'i2']]);
  // Nothing current yet: two boots, nothing retired, the pool keeps serving the old image.
  const first = planPools(world({ vms: stale, servers, currentImages: current }));
  t.deepEqual(first.actions.map((a) => a.kind), ['create', 'create']);
  t.regex(first.notes.get('a') ?? '', /replacing 2 ready VM\(s\) built from an older image/);
  // One current VM ready: exactly one stale one goes.
  const fresh = vm('a', 'ready');
  const booting = vm('a', 'booting');
  const second = planPools(world({ vms: [...stale, fresh, booting], servers: [...servers, { ...server(fresh), image: 'i2' }, { ...server(booting, 'BUILD'), image: 'i2' }], currentImages: current }));
  t.deepEqual(second.actions.map((a) => a.kind), ['retire']);
  t.like(second.actions[0], { vm: { id: stale[0]!.id }, reason: 'built from an older image' });
  // Without knowing the current image nothing is replaced.
  t.deepEqual(kinds(world({ vms: stale, servers })), []);
});

test('a paused pool is frozen: no boot, no retirement, no deletion, with a note; its VMs are still watched', (t) => {
  const ready = [vm('a', 'ready'), vm('a', 'ready'), vm('a', 'ready')];
  const released = vm('a', 'releasing');
  const booting = vm('a', 'booting');
  const orphan = { ...server(vm('a', 'ready')), id: 'orphan', metadata: { [META.vm]: 'gone', [META.pool]: 'a' } };
  const other = vm('b', 'releasing');
  const w = world({
    pools: [pool('a', 1, 6), pool('b', 0, 2)],
    vms: [...ready, released, booting, other],
    servers: [...ready.map((v) => server(v)), server(released), server(booting), orphan, server(other)],
    paused: new Set(['a']),
  });
  const plan = planPools(w);
  t.deepEqual(plan.actions.map((a) => [a.kind, a.kind === 'create' ? a.pool : a.vm?.pool ?? null]), [
    ['provision', 'a'],
    ['delete-server', 'b'],
  ]);
  t.is(plan.notes.get('a'), 'paused by an admin: nothing is booted or deleted');
  t.deepEqual(kinds({ ...w, pools: [pool('a', 5, 6)], paused: new Set(['a']) }).filter((k) => k === 'create'), [], 'no boot to a larger size either');
});

test('a drained pool (size 0 here) retires its ready VMs, saying why', (t) => {
  const ready = [vm('a', 'ready'), vm('a', 'ready')];
  const claimed = vm('a', 'claimed');
  const plan = planPools(world({ pools: [pool('a', 0, 4)], vms: [...ready, claimed], servers: [...ready, claimed].map((v) => server(v)), drained: new Set(['a']) }));
  t.deepEqual(plan.actions.map((a) => [a.kind, a.kind === 'retire' ? a.reason : null]), [
    ['retire', 'the pool is drained for maintenance'],
    ['retire', 'the pool is drained for maintenance'],
  ]);
});

test('circuit breaker: an open pool boots nothing; after circuitRetry one trial boot, none while it is under way; after a failure no more in flight than failures left', (t) => {
  const circuit = { failureLimit: 3, circuitRetryMs: 30 * 60_000 };
  const settings = { readinessTimeoutMs: 600_000, failedRetentionMs: 300_000, maxConcurrentBoots: 10, circuit };
  const failing = (failures: number, lastErrorAt: number) =>
    new Map([['a', { pool: 'a', lastError: 'a-1: provisioning failed', lastErrorAt, consecutiveFailures: failures, backoffUntil: null }]]);
  const open = planPools(world({ pools: [pool('a', 3, 6)], health: failing(3, NOW - 60_000), settings }));
  t.deepEqual(open.actions, []);
  t.regex(open.notes.get('a') ?? '', /^failing: 3 boots or provisioning runs in a row failed; booting stopped \(one trial boot at .*; admin resume a closes it\)$/);
  const trial = planPools(world({ pools: [pool('a', 3, 6)], health: failing(3, NOW - 30 * 60_000), settings }));
  t.deepEqual(trial.actions.map((a) => a.kind), ['create'], 'one trial boot');
  const booting = vm('a', 'booting');
  t.deepEqual(kinds(world({ pools: [pool('a', 3, 6)], vms: [booting], servers: [server(booting, 'BUILD')], health: failing(3, NOW - 30 * 60_000), settings })), [], 'the trial is under way');
  t.deepEqual(kinds(world({ pools: [pool('a', 3, 6)], health: failing(1, NOW - 60_000), settings })), ['create', 'create'], 'two failures left: two boots at most');
  t.deepEqual(kinds(world({ pools: [pool('a', 3, 6)], health: failing(2, NOW - 60_000) })), ['create', 'create', 'create'], 'without circuit settings only back-off counts');
});

// ---------------------------------------------------------------------------------------------
// Pools that grow with the queue

const qPool = (size: number, max: number): PoolSpec => ({ name: 'a', size, max, flavor: 'f' }) as PoolSpec;
let made = 0;
const qVm = (state: VmState): Vm => vm('a', state, { createdAt: NOW - 1_000 + made++ });
const qWorld = (over: Partial<ObservedWorld>): ObservedWorld =>
  world({ pools: [qPool(5, 60)], coresPerVm: new Map([['a', 2]]), settings: { readinessTimeoutMs: 600_000, failedRetentionMs: 300_000, maxConcurrentBoots: 20 }, ...over });
const count = (w: ObservedWorld, kind: string) => planPools(w).actions.filter((a) => a.kind === kind).length;

test('a pool boots for its size plus the people waiting, within the boot budget', (t) => {
  t.is(count(qWorld({ queued: new Map([['a', 12]]) }), 'create'), 17);
  t.is(count(qWorld({ queued: new Map([['a', 200]]) }), 'create'), 20, 'maxConcurrentBoots 20');
});

test('never beyond max, nor the quota', (t) => {
  t.is(count(qWorld({ pools: [qPool(5, 8)], queued: new Map([['a', 50]]) }), 'create'), 8);
  t.is(count(qWorld({ queued: new Map([['a', 50]]), capacity: { instances: 3, cores: 100 } }), 'create'), 3);
  t.regex(planPools(qWorld({ pools: [qPool(5, 8)], queued: new Map([['a', 50]]), vms: Array.from({ length: 8 }, () => qVm('claimed')) })).notes.get('a') ?? '', /at its maximum of 8/);
});

test('nothing grows while the circuit is open', (t) => {
  const health = new Map([['a', { pool: 'a', lastError: 'x', lastErrorAt: NOW - 1, consecutiveFailures: 3, backoffUntil: null }]]);
  const settings = { readinessTimeoutMs: 600_000, failedRetentionMs: 300_000, maxConcurrentBoots: 20, circuit: { failureLimit: 3, circuitRetryMs: 600_000 } };
  t.is(count(qWorld({ queued: new Map([['a', 10]]), health, settings }), 'create'), 0);
});

test('VMs held for waiters count as the pool’s and are never retired; unclaimed extras beyond size are', (t) => {
  const ready = Array.from({ length: 8 }, () => qVm('ready'));
  const servers = ready.map((v) => server(v));
  const held = new Set(ready.slice(5).map((v) => v.id)); // the newest three, the first a retirement would pick
  const plan = planPools(qWorld({ vms: ready, servers, queued: new Map([['a', 1]]), held }));
  const retired = plan.actions.filter((a) => a.kind === 'retire').map((a) => (a as { vm: Vm }).vm.id);
  t.is(retired.length, 2, '8 ready, size 5 + 1 waiting');
  t.false(retired.some((id) => held.has(id)));
  t.is(count(qWorld({ vms: ready, servers, queued: new Map([['a', 3]]), held }), 'retire'), 0, 'all 8 needed: 5 warm, 3 for the waiters');
});

test('a drained pool does not grow with its queue', (t) => {
  t.is(count(qWorld({ pools: [{ ...qPool(0, 60) }], drained: new Set(['a']), queued: new Map([['a', 10]]) }), 'create'), 0);
});
