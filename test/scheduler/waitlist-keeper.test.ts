import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import type { PoolSpec } from '../../src/core/model.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { noMetrics, type Metrics } from '../../src/ports/metrics.ts';
import { WaitlistKeeper } from '../../src/scheduler/waitlist-keeper.ts';
import { tempDir } from '../helpers/harness.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const MIN = 60_000;

const POOL: PoolSpec = {
  name: 'physics', description: '', image: 'img', flavor: 'm1', gpu: false, networks: [], size: 0, max: 10,
  leaseMs: 48 * 60 * MIN, remindBeforeMs: [], extensionStepMs: 0, maxExtensions: 0, maxLeasesPerUser: 1,
  groups: ['*'], connect: 'ssh {account}@{address}', owner: { name: 'Physics', contact: 'p@x' },
  queue: true, holdForMs: 10 * MIN,
};

interface Events { holds: string[]; served: number[]; leaseChanged: string[] }

function setup(t: ExecutionContext, pool: PoolSpec = POOL, store = new SqliteStore(':memory:')) {
  t.teardown(() => store.close());
  const events: Events = { holds: [], served: [], leaseChanged: [] };
  const metrics: Metrics = { ...noMetrics, hold: (_p, e) => events.holds.push(e), claimServed: (_p, ms) => events.served.push(ms) };
  const keeper = new WaitlistKeeper({ store, log: silentLogger, metrics, pools: new Map([[pool.name, pool]]), queueMessage: (m) => store.enqueueMessage(m), leaseChanged: (account) => events.leaseChanged.push(account) });
  return { store, keeper, events };
}

const join_ = (store: SqliteStore, user: string, now = T0) => store.joinQueue({ pool: 'physics', user, platform: 'test', conversation: `dm-${user}`, now });

function readyVm(store: SqliteStore, at = T0): { id: string; name: string } {
  const vm = store.createVm({ pool: 'physics', image: 'img', flavor: 'm1', createdAt: at - 8_000 });
  store.updateVm(vm.id, { state: 'ready', readyAt: at }, at);
  return vm;
}

const messages = (store: SqliteStore, user?: string) => store.outboxMessages().filter((m) => !user || m.to.user === user);

test('a ready VM is held for the first in line, with Claim it and Pass, until holdFor has passed', (t) => {
  const { store, keeper, events } = setup(t);
  join_(store, 'alice');
  join_(store, 'bob');
  const vm = readyVm(store);
  const report = keeper.serve(T0 + 1_000);
  t.like(report, { offered: 1, assigned: 0, lapsed: 0, nextLapseAt: T0 + 1_000 + 10 * MIN });
  t.deepEqual(store.queueEntries({ pool: 'physics' }).map((e) => [e.user, e.hold?.vmId ?? null]), [['alice', vm.id], ['bob', null]]);
  const [offer] = messages(store, 'alice');
  t.is(offer!.kind, 'waitlist');
  t.is(offer!.deliverBy, T0 + 1_000 + 10 * MIN, 'worthless once the hold is over');
  t.is(offer!.to.conversation, 'dm-alice');
  t.regex(offer!.body.title, new RegExp(`ready for you: ${vm.name}`));
  const buttons = offer!.body.blocks.flatMap((b) => (b.type === 'actions' ? b.actions : []));
  t.deepEqual(buttons.map((b) => [b.label, b.command]), [['Claim it', 'claim physics'], ['Pass', 'leave physics']]);
  t.deepEqual(events.holds, ['offered']);
  t.like(keeper.serve(T0 + 2_000), { offered: 0 }, 'serving again offers nothing twice');
  t.is(messages(store).length, 1);
});

test('two VMs ready at once go to the first two in line, one each', (t) => {
  const { store, keeper } = setup(t);
  for (const user of ['alice', 'bob', 'carol']) join_(store, user);
  const a = readyVm(store, T0);
  const b = readyVm(store, T0 + 1);
  t.like(keeper.serve(T0 + 2), { offered: 2 });
  t.deepEqual(store.queueEntries({ pool: 'physics' }).map((e) => [e.user, e.hold?.vmId ?? null]), [['alice', a.id], ['bob', b.id], ['carol', null]]);
  t.deepEqual(messages(store).map((m) => m.to.user), ['alice', 'bob']);
});

test('a lapsed hold passes to the next in line, and whoever let it lapse leaves the queue, told so', (t) => {
  const { store, keeper, events } = setup(t);
  join_(store, 'alice');
  join_(store, 'bob');
  const vm = readyVm(store);
  keeper.serve(T0);
  t.like(keeper.serve(T0 + 10 * MIN - 1), { lapsed: 0 });
  t.like(keeper.serve(T0 + 10 * MIN), { lapsed: 1, offered: 1 });
  t.deepEqual(store.queueEntries({ pool: 'physics' }).map((e) => [e.user, e.hold?.vmId]), [['bob', vm.id]]);
  t.is(store.queuePosition('physics', 'alice'), null);
  t.deepEqual(messages(store, 'alice').map((m) => m.body.title), [`A VM of physics is ready for you: ${vm.name}`, `${vm.name} was passed to the next in line`]);
  t.deepEqual(messages(store, 'bob').map((m) => m.body.title), [`A VM of physics is ready for you: ${vm.name}`]);
  t.deepEqual(events.holds, ['offered', 'lapsed', 'offered']);
  t.is(store.auditLog().filter((e) => e.action === 'hold-lapsed').length, 1);
});

test('a held VM that fails is no longer held, and its waiter keeps the place for the next one', (t) => {
  const { store, keeper } = setup(t);
  join_(store, 'alice');
  const vm = readyVm(store);
  keeper.serve(T0);
  store.updateVm(vm.id, { state: 'failed', detail: 'server gone' }, T0 + 1, 'ready');
  keeper.serve(T0 + 2);
  t.deepEqual(store.queueEntries({ pool: 'physics' }).map((e) => [e.user, e.hold]), [['alice', null]]);
  const next = readyVm(store, T0 + 3);
  keeper.serve(T0 + 4);
  t.is(store.queueEntries({ pool: 'physics' })[0]!.hold?.vmId, next.id);
});

test('autoAssign leases the VM at once and sends the claim card; the wait is measured', (t) => {
  const { store, keeper, events } = setup(t, { ...POOL, autoAssign: true });
  join_(store, 'alice', T0 - 30_000);
  const vm = readyVm(store);
  t.like(keeper.serve(T0), { assigned: 1, offered: 0 });
  const [lease] = store.activeLeases({ user: 'alice' });
  t.is(lease!.vmId, vm.id);
  t.is(lease!.claimedAt, T0, 'the lease starts when the VM is handed over');
  t.is(lease!.conversation, 'dm-alice');
  t.is(store.getVm(vm.id)!.state, 'claimed');
  t.is(store.queuedCount('physics'), 0);
  const [card] = messages(store, 'alice');
  t.is(card!.leaseId, lease!.id);
  t.regex(card!.body.title, new RegExp(`Your turn: ${vm.name} is yours`));
  t.deepEqual(events.served, [30_000]);
  t.deepEqual(events.leaseChanged, ['alice'], 'one lease change: her Slack Home tab shows the VM');
});

test('someone who meanwhile holds as many VMs as the pool allows leaves the queue instead of getting another', (t) => {
  const { store, keeper } = setup(t);
  join_(store, 'alice');
  join_(store, 'bob');
  const other = readyVm(store, T0 - 5);
  store.claim({ pool: 'physics', user: 'alice', platform: 'test', conversation: 'dm-alice', now: T0 - 1, leaseMs: MIN, maxLeasesPerUser: 5 });
  t.is(store.getVm(other.id)!.state, 'claimed');
  const vm = readyVm(store);
  keeper.serve(T0);
  t.deepEqual(store.queueEntries({ pool: 'physics' }).map((e) => [e.user, e.hold?.vmId]), [['bob', vm.id]]);
  t.regex(messages(store, 'alice')[0]!.body.title, /You have left the queue for physics/);
});

test('holds outlive a restart: nothing is offered twice, and a hold runs out when it was promised to', (t) => {
  const dir = tempDir('daaas-waitlist-');
  t.teardown(dir.remove);
  const path = join(dir.path, 'daaas.sqlite');
  const first = setup(t, POOL, new SqliteStore(path));
  join_(first.store, 'alice');
  join_(first.store, 'bob');
  const vm = readyVm(first.store);
  first.keeper.serve(T0);
  first.store.close();

  const second = setup(t, POOL, new SqliteStore(path));
  t.like(second.keeper.serve(T0 + MIN), { offered: 0, lapsed: 0, nextLapseAt: T0 + 10 * MIN });
  t.is(second.store.outboxMessages().length, 1);
  t.like(second.keeper.serve(T0 + 10 * MIN), { lapsed: 1, offered: 1 });
  t.deepEqual(second.store.queueEntries({ pool: 'physics' }).map((e) => [e.user, e.hold?.vmId]), [['bob', vm.id]]);
});

test('a pool without a queue is left alone', (t) => {
  const { store, keeper } = setup(t, { ...POOL, queue: false });
  readyVm(store);
  t.like(keeper.serve(T0), { offered: 0, assigned: 0, nextLapseAt: null });
});

test('a place in the queue of a pool removed from the configuration is dropped, and its waiter told', (t) => {
  const { store, keeper } = setup(t);
  store.joinQueue({ pool: 'retired', user: 'alice', platform: 'test', conversation: 'dm-alice', now: T0 });
  join_(store, 'bob');
  keeper.serve(T0);
  t.deepEqual(store.queueEntries().map((e) => e.user), ['bob']);
  t.is(messages(store, 'alice')[0]!.body.title, 'You have left the queue for retired');
  keeper.serve(T0 + 1);
  t.is(messages(store, 'alice').length, 1, 'told once');
});
