import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import { SqliteWaitlist } from '../../../src/adapters/sqlite/waitlist.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

function open(t: ExecutionContext): { store: SqliteStore; waitlist: SqliteWaitlist } {
  const store = new SqliteStore(':memory:');
  t.teardown(() => store.close());
  return { store, waitlist: new SqliteWaitlist(store.db, (fn) => store.transaction(fn)) };
}

const join = (waitlist: SqliteWaitlist, user: string, pool = 'physics', now = T0) =>
  waitlist.joinQueue({ pool, user, platform: 'shell', conversation: `dm-${user}`, now });

function readyVm(store: SqliteStore, pool = 'physics', at = T0): string {
  const vm = store.createVm({ pool, image: 'img', flavor: 'm1', createdAt: at });
  store.updateVm(vm.id, { state: 'ready', readyAt: at }, at);
  return vm.id;
}

test('users queue first come first served, once per pool, each pool its own line', (t) => {
  const { store, waitlist } = open(t);
  t.like(join(waitlist, 'alice'), { joined: true, position: 1 });
  t.like(join(waitlist, 'bob', 'physics', T0 + 1), { joined: true, position: 2 });
  t.like(join(waitlist, 'alice', 'physics', T0 + 2), { joined: false, position: 1 });
  t.like(join(waitlist, 'alice', 'chemistry'), { joined: true, position: 1 });
  t.is(waitlist.queuedCount('physics'), 2);
  t.is(store.queuedCount('physics'), 2);
  t.is(store.queuedCount('chemistry'), 1);
  t.is(store.queuedCount('biology'), 0);
  t.deepEqual(waitlist.queueEntries({ pool: 'physics' }).map((e) => e.user), ['alice', 'bob']);
  t.deepEqual(waitlist.queueEntries({ user: 'alice' }).map((e) => e.pool), ['physics', 'chemistry']);
});

test('leaving moves everyone behind up, and leaving twice changes nothing', (t) => {
  const { waitlist } = open(t);
  for (const user of ['alice', 'bob', 'carol']) join(waitlist, user);
  t.is(waitlist.leaveQueue('physics', 'alice')?.user, 'alice');
  t.is(waitlist.leaveQueue('physics', 'alice'), undefined);
  t.is(waitlist.queuePosition('physics', 'bob'), 1);
  t.is(waitlist.queuePosition('physics', 'carol'), 2);
  t.is(waitlist.queuePosition('physics', 'alice'), null);
  t.like(join(waitlist, 'alice'), { joined: true, position: 3 });
});

test('a ready VM is held for one entry only, and only while it is ready and in the pool', (t) => {
  const { store, waitlist } = open(t);
  const a = join(waitlist, 'alice').entry;
  const b = join(waitlist, 'bob').entry;
  const vm = readyVm(store);
  const other = readyVm(store, 'chemistry');
  t.deepEqual(waitlist.unheldReadyVms('physics'), [vm]);
  t.false(waitlist.holdVm(a.id, other, T0, T0 + 600_000), 'another pool’s VM');
  t.true(waitlist.holdVm(a.id, vm, T0, T0 + 600_000));
  t.false(waitlist.holdVm(b.id, vm, T0, T0 + 600_000), 'already held for alice');
  t.false(waitlist.holdVm(a.id, vm, T0, T0 + 600_000), 'alice already holds one');
  t.deepEqual(waitlist.unheldReadyVms('physics'), []);
  t.deepEqual(waitlist.heldVmIds(), [vm]);
  t.deepEqual(waitlist.queueEntries({ user: 'alice' })[0]!.hold, { vmId: vm, offeredAt: T0, until: T0 + 600_000 });
  const booting = store.createVm({ pool: 'physics', image: 'img', flavor: 'm1', createdAt: T0 }).id;
  t.false(waitlist.holdVm(b.id, booting, T0, T0 + 600_000), 'not ready');
  waitlist.leaveQueue('physics', 'alice');
  t.deepEqual(waitlist.unheldReadyVms('physics'), [vm], 'free again once alice left');
});

test('the database itself refuses a second entry per user and pool and a second hold per VM', (t) => {
  const { store, waitlist } = open(t);
  const db: Database.Database = store.db;
  join(waitlist, 'alice');
  t.throws(() => db.prepare("INSERT INTO waitlist (pool, user, platform, conversation, joined_at) VALUES ('physics', 'alice', 's', 'c', 1)").run(), { any: true });
  const vm = readyVm(store);
  join(waitlist, 'bob');
  db.prepare("UPDATE waitlist SET held_vm_id = ?, offered_at = 1, held_until = 2 WHERE user = 'alice'").run(vm);
  t.throws(() => db.prepare("UPDATE waitlist SET held_vm_id = ?, offered_at = 1, held_until = 2 WHERE user = 'bob'").run(vm), { any: true });
});
