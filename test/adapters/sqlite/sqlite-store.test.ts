import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { MIGRATIONS } from '../../../src/adapters/sqlite/migrations.ts';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import type { Vm, VmState } from '../../../src/core/model.ts';
import type { ClaimRequest } from '../../../src/ports/store.ts';
import { tempDir } from '../../helpers/harness.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const H = 3_600_000;

/** A throw-away store in memory, closed when the test ends. */
function memoryStore(t: ExecutionContext): SqliteStore {
  const store = new SqliteStore(':memory:');
  t.teardown(() => store.close());
  return store;
}

/** A path to a store file in a fresh temp directory, removed when the test ends. */
function storeFile(t: ExecutionContext): string {
  const dir = tempDir('daaas-sqlite-');
  t.teardown(dir.remove);
  return join(dir.path, 'daaas.sqlite');
}

/** A raw connection on a store file, closed when the test ends. */
function raw(t: ExecutionContext, path: string): Database.Database {
  const db = new Database(path);
  t.teardown(() => {
    if (db.open) db.close();
  });
  return db;
}

function newVm(store: SqliteStore, pool = 'physics', createdAt = T0): Vm {
  return store.createVm({ pool, image: `${pool}-image`, flavor: 'm1.large', createdAt });
}

/** Creates a VM and moves it to ready, at `readyAt`. */
function readyVm(store: SqliteStore, pool = 'physics', readyAt = T0 + 60_000, createdAt = T0): Vm {
  const vm = newVm(store, pool, createdAt);
  const moved = store.updateVm(vm.id, { state: 'ready', serverId: `srv-${vm.name}`, address: '10.0.0.1', readyAt }, readyAt);
  if (!moved) throw new Error('could not make the VM ready');
  return store.getVm(vm.id)!;
}

function request(user: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return { pool: 'physics', user, platform: 'test', conversation: `dm-${user}`, now: T0 + H, leaseMs: 48 * H, maxLeasesPerUser: 1, ...overrides };
}

function claimOk(t: ExecutionContext, store: SqliteStore, req: ClaimRequest) {
  const outcome = store.claim(req);
  if (!outcome.ok) {
    t.fail(`claim by ${req.user} refused: ${outcome.reason}`);
    throw new Error('claim refused');
  }
  return outcome.lease;
}

// ---------------------------------------------------------------------------------------------
// Schema and file handling

test('migrations set user_version (schemaVersion) to MIGRATIONS.length', (t) => {
  const store = memoryStore(t);
  t.true(MIGRATIONS.length >= 1);
  t.is(store.schemaVersion, MIGRATIONS.length);

  const path = storeFile(t);
  const onFile = new SqliteStore(path);
  onFile.close();
  const db = raw(t, path);
  t.is(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  for (const table of ['audit', 'leases', 'pool_health', 'reminders', 'vms']) t.true(tables.includes(table), `table ${table} exists`);
});

test('reopening a file store keeps the data and does not re-run migrations', (t) => {
  const path = storeFile(t);
  const first = new SqliteStore(path);
  const vm = readyVm(first);
  const lease = claimOk(t, first, request('alice'));
  first.audit({ at: T0, actor: 'alice', action: 'claim', target: vm.name, result: 'ok' });
  first.close();

  // A migration that ran again would fail on CREATE TABLE; a marker row shows the tables were not rebuilt.
  const second = new SqliteStore(path);
  t.teardown(() => second.close());
  t.is(second.schemaVersion, MIGRATIONS.length);
  t.deepEqual(second.getVm(vm.id), { ...vm, state: 'claimed', stateSince: T0 + H });
  t.deepEqual(second.getLease(lease.id), lease);
  t.deepEqual(second.auditLog(), [{ at: T0, actor: 'alice', action: 'claim', target: vm.name, result: 'ok' }]);
  second.close();

  const db = raw(t, path);
  t.is(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  t.is((db.prepare('SELECT COUNT(*) AS n FROM vms').get() as { n: number }).n, 1);
});

test('a store written by a newer version of the bot is refused with a clear error', (t) => {
  const path = storeFile(t);
  new SqliteStore(path).close();
  const db = raw(t, path);
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  db.close();

  const error = t.throws(() => new SqliteStore(path));
  t.regex(error?.message ?? '', /newer version of the bot/);
  t.true(error?.message.includes(`schema ${MIGRATIONS.length + 1}`), error?.message);
  t.true(error?.message.includes(`knows ${MIGRATIONS.length}`), error?.message);

  // Nothing was changed by the refusal.
  const check = raw(t, path);
  t.is(check.pragma('user_version', { simple: true }), MIGRATIONS.length + 1);
  t.is(check.pragma('journal_mode', { simple: true }), 'wal', 'as the first store left it');
});

test('a refused store is closed and not touched: its journal mode stays as it was', (t) => {
  const path = storeFile(t);
  const db = raw(t, path);
  db.pragma('journal_mode = DELETE');
  db.pragma(`user_version = ${MIGRATIONS.length + 7}`);
  db.close();
  t.throws(() => new SqliteStore(path), { message: /newer version of the bot/ });
  const check = raw(t, path);
  t.is(check.pragma('journal_mode', { simple: true }), 'delete');
});

test('a file store uses WAL journalling', (t) => {
  const path = storeFile(t);
  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  const db = raw(t, path);
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
});

// ---------------------------------------------------------------------------------------------
// VMs

test('createVm gives unique names <pool>-xxxx in state booting', (t) => {
  const store = memoryStore(t);
  const names = new Set<string>();
  const ids = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const vm = newVm(store, 'excitations-gpu', T0 + i);
    t.regex(vm.name, /^excitations-gpu-[a-z0-9]{4}$/);
    t.is(vm.state, 'booting');
    t.is(vm.pool, 'excitations-gpu');
    t.is(vm.createdAt, T0 + i);
    t.is(vm.stateSince, T0 + i);
    t.is(vm.readyAt, null);
    t.is(vm.serverId, null);
    t.is(vm.address, null);
    names.add(vm.name);
    ids.add(vm.id);
    t.deepEqual(store.findVmByName(vm.name), vm);
  }
  t.is(names.size, 200);
  t.is(ids.size, 200);
  t.is(store.listVms({ pool: 'excitations-gpu' }).length, 200);
});

test('updateVm changes the fields given and stamps stateSince on a state change', (t) => {
  const store = memoryStore(t);
  const vm = newVm(store);
  t.true(store.updateVm(vm.id, { serverId: 'srv-1' }, T0 + 5));
  t.like(store.getVm(vm.id), { serverId: 'srv-1', state: 'booting', stateSince: T0 });
  t.true(store.updateVm(vm.id, { state: 'provisioning', address: '10.1.2.3' }, T0 + 10));
  t.like(store.getVm(vm.id), { serverId: 'srv-1', address: '10.1.2.3', state: 'provisioning', stateSince: T0 + 10 });
  t.true(store.updateVm(vm.id, { detail: 'slow', address: null }, T0 + 20));
  t.like(store.getVm(vm.id), { detail: 'slow', address: null, stateSince: T0 + 10 });
  t.false(store.updateVm(vm.id, {}, T0 + 30), 'an empty patch changes nothing');
  t.false(store.updateVm('no-such-vm', { state: 'ready' }, T0 + 30));
});

test("updateVm's expect guard refuses and changes nothing when the state differs", (t) => {
  const store = memoryStore(t);
  const vm = newVm(store);
  const before = store.getVm(vm.id);

  t.false(store.updateVm(vm.id, { state: 'ready', readyAt: T0 + 1, address: '10.0.0.9' }, T0 + 1, 'provisioning'));
  t.false(store.updateVm(vm.id, { state: 'ready', readyAt: T0 + 1 }, T0 + 1, ['provisioning', 'claimed']));
  t.deepEqual(store.getVm(vm.id), before);

  t.true(store.updateVm(vm.id, { state: 'provisioning' }, T0 + 2, 'booting'));
  t.true(store.updateVm(vm.id, { state: 'ready', readyAt: T0 + 3 }, T0 + 3, ['booting', 'provisioning']));
  t.like(store.getVm(vm.id), { state: 'ready', readyAt: T0 + 3, stateSince: T0 + 3 });
  // The second of two racing writers loses.
  t.true(store.updateVm(vm.id, { state: 'failed', detail: 'first' }, T0 + 4, 'ready'));
  t.false(store.updateVm(vm.id, { state: 'releasing', detail: 'second' }, T0 + 5, 'ready'));
  t.like(store.getVm(vm.id), { state: 'failed', detail: 'first', stateSince: T0 + 4 });
});

test('listVms hides deleted VMs unless asked and filters by pool and state', (t) => {
  const store = memoryStore(t);
  const a = newVm(store, 'physics', T0 + 1);
  const b = newVm(store, 'physics', T0 + 2);
  const c = newVm(store, 'imaging', T0 + 3);
  store.updateVm(b.id, { state: 'deleted' }, T0 + 4);
  t.deepEqual(store.listVms().map((v) => v.id), [a.id, c.id]);
  t.deepEqual(store.listVms({ pool: 'physics' }).map((v) => v.id), [a.id]);
  t.deepEqual(store.listVms({ states: ['deleted'] }).map((v) => v.id), [b.id]);
  t.deepEqual(store.listVms({ pool: 'imaging', states: ['booting', 'deleted'] }).map((v) => v.id), [c.id]);
});

// ---------------------------------------------------------------------------------------------
// Claims

test('claim hands out the oldest ready VM by readyAt, not by creation', (t) => {
  const store = memoryStore(t);
  // Created in one order, ready in another.
  const late = readyVm(store, 'physics', T0 + 30_000, T0 + 1);
  const early = readyVm(store, 'physics', T0 + 10_000, T0 + 2);
  const middle = readyVm(store, 'physics', T0 + 20_000, T0 + 3);
  readyVm(store, 'imaging', T0 + 1_000, T0 + 4); // another pool, older still

  const first = claimOk(t, store, request('alice'));
  t.is(first.vmId, early.id);
  t.like(first, { pool: 'physics', user: 'alice', platform: 'test', conversation: 'dm-alice', claimedAt: T0 + H, expiresAt: T0 + 49 * H, extensionsUsed: 0, endedAt: null, endReason: null });
  t.like(first.vm, { id: early.id, state: 'claimed', stateSince: T0 + H });
  t.is(claimOk(t, store, request('bob')).vmId, middle.id);
  t.is(claimOk(t, store, request('carol')).vmId, late.id);
  t.deepEqual(store.claim(request('dave')), { ok: false, reason: 'pool-empty', held: 0 });
});

test("claim refuses with 'pool-empty' when no VM is ready", (t) => {
  const store = memoryStore(t);
  t.deepEqual(store.claim(request('alice')), { ok: false, reason: 'pool-empty', held: 0 });
  t.deepEqual(store.activeLeases(), []);
});

test("claim refuses with 'lease-limit' when the user holds maxLeasesPerUser in the pool", (t) => {
  const store = memoryStore(t);
  for (let i = 0; i < 4; i++) readyVm(store, 'physics', T0 + i);
  readyVm(store, 'imaging', T0);

  claimOk(t, store, request('alice'));
  t.deepEqual(store.claim(request('alice')), { ok: false, reason: 'lease-limit', held: 1 });
  // The limit is per pool.
  claimOk(t, store, request('alice', { pool: 'imaging' }));
  // A higher limit allows more, up to the limit.
  claimOk(t, store, request('alice', { maxLeasesPerUser: 2 }));
  t.deepEqual(store.claim(request('alice', { maxLeasesPerUser: 2 })), { ok: false, reason: 'lease-limit', held: 2 });
  // The refused claims took nothing.
  t.is(store.listVms({ pool: 'physics', states: ['ready'] }).length, 2);
  t.is(store.activeLeases({ user: 'alice' }).length, 3);
  t.is(store.activeLeases({ user: 'alice', pool: 'physics' }).length, 2);
});

test('a lease that ended no longer counts towards the limit', (t) => {
  const store = memoryStore(t);
  readyVm(store, 'physics', T0 + 1);
  readyVm(store, 'physics', T0 + 2);
  const lease = claimOk(t, store, request('alice'));
  t.true(store.endLease(lease.id, 'released', T0 + 2 * H));
  claimOk(t, store, request('alice', { now: T0 + 3 * H }));
});

test('claim never hands out booting, provisioning, failed, claimed, releasing or deleted VMs', (t) => {
  const store = memoryStore(t);
  const notReady: VmState[] = ['booting', 'provisioning', 'failed', 'claimed', 'releasing', 'deleted'];
  for (const state of notReady) {
    const vm = newVm(store);
    // Give them the oldest readyAt, so only the state can keep them out.
    if (state !== 'booting') t.true(store.updateVm(vm.id, { state, readyAt: T0 - H }, T0));
  }
  t.deepEqual(store.claim(request('alice')), { ok: false, reason: 'pool-empty', held: 0 });

  const ready = readyVm(store, 'physics', T0 + H);
  t.is(claimOk(t, store, request('alice', { now: T0 + 2 * H })).vmId, ready.id);
  t.deepEqual(store.claim(request('bob', { now: T0 + 2 * H })), { ok: false, reason: 'pool-empty', held: 0 });
  t.deepEqual(
    notReady.map((state) => store.listVms({ states: [state] }).length),
    [1, 1, 1, 2, 1, 1],
  );
});

test('the database refuses a second live lease on one VM, even through raw SQL', (t) => {
  const path = storeFile(t);
  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  readyVm(store);
  const lease = claimOk(t, store, request('alice'));

  const db = raw(t, path);
  const insert = db.prepare(
    `INSERT INTO leases (id, vm_id, pool, user, platform, conversation, claimed_at, expires_at)
     VALUES (?, ?, 'physics', 'mallory', 'test', 'dm-mallory', ?, ?)`,
  );
  // better-sqlite3's SqliteError is not a native Error, so t.throws cannot be used here.
  let code: string | undefined;
  try {
    insert.run('second-lease', lease.vmId, T0, T0 + H);
  } catch (error) {
    code = (error as { code?: string }).code;
  }
  t.is(code, 'SQLITE_CONSTRAINT_UNIQUE', 'the second live lease was refused by the unique index');
  t.deepEqual(store.activeLeases().map((l) => l.user), ['alice']);

  // Once the first lease has ended, the VM may be leased again (history is kept).
  t.true(store.endLease(lease.id, 'released', T0 + 2 * H));
  t.notThrows(() => insert.run('third-lease', lease.vmId, T0 + 3 * H, T0 + 4 * H));
  t.is((db.prepare('SELECT COUNT(*) AS n FROM leases WHERE vm_id = ?').get(lease.vmId) as { n: number }).n, 2);
});

// ---------------------------------------------------------------------------------------------
// Leases

test('endLease ends the lease, marks the VM releasing, and is idempotent', (t) => {
  const store = memoryStore(t);
  readyVm(store);
  const lease = claimOk(t, store, request('alice'));

  t.true(store.endLease(lease.id, 'expired', T0 + 49 * H));
  const ended = store.getLease(lease.id);
  t.like(ended, { endedAt: T0 + 49 * H, endReason: 'expired' });
  t.like(ended?.vm, { state: 'releasing', stateSince: T0 + 49 * H });
  t.deepEqual(store.activeLeases(), []);

  t.false(store.endLease(lease.id, 'admin', T0 + 50 * H));
  t.like(store.getLease(lease.id), { endedAt: T0 + 49 * H, endReason: 'expired' });
  t.like(store.getVm(lease.vmId), { state: 'releasing', stateSince: T0 + 49 * H });
  t.false(store.endLease('no-such-lease', 'admin', T0));
});

test('a new lease waits for its home directory; markHomeReady records it once, and not on an ended lease', (t) => {
  const store = memoryStore(t);
  readyVm(store);
  readyVm(store);
  const lease = claimOk(t, store, request('alice'));
  t.is(lease.homeReadyAt, null);
  t.true(store.markHomeReady(lease.id, T0 + H + 5_000));
  t.false(store.markHomeReady(lease.id, T0 + H + 9_000), 'once');
  t.is(store.getLease(lease.id)?.homeReadyAt, T0 + H + 5_000);
  const other = claimOk(t, store, request('bob'));
  store.endLease(other.id, 'released', T0 + 2 * H);
  t.false(store.markHomeReady(other.id, T0 + 3 * H));
  t.is(store.getLease(other.id)?.homeReadyAt, null);
});

test('upgrading a version 1 store counts its live leases as personalised: they were handed over whole', (t) => {
  const path = storeFile(t);
  const db = raw(t, path);
  db.exec(MIGRATIONS[0]!);
  db.pragma('user_version = 1');
  db.exec(`INSERT INTO vms (id, name, pool, state, image, flavor, created_at, state_since) VALUES ('v1', 'physics-aaaa', 'physics', 'claimed', 'i', 'f', ${T0}, ${T0})`);
  db.exec(`INSERT INTO leases (id, vm_id, pool, user, platform, conversation, claimed_at, expires_at) VALUES ('l1', 'v1', 'physics', 'alice', 'shell', 'c', ${T0}, ${T0 + 48 * H})`);
  db.close();
  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  t.is(store.schemaVersion, MIGRATIONS.length);
  t.is(store.getLease('l1')?.homeReadyAt, T0);
});

test('endLease leaves a VM that already failed as failed', (t) => {
  const store = memoryStore(t);
  readyVm(store);
  const lease = claimOk(t, store, request('alice'));
  t.true(store.updateVm(lease.vmId, { state: 'failed', detail: 'server vanished' }, T0 + 2 * H, 'claimed'));
  t.true(store.endLease(lease.id, 'vm-lost', T0 + 3 * H));
  t.like(store.getVm(lease.vmId), { state: 'failed', detail: 'server vanished', stateSince: T0 + 2 * H });
  t.like(store.getLease(lease.id), { endReason: 'vm-lost', endedAt: T0 + 3 * H });
});

test('extendLease is a compare-and-set on extensionsUsed', (t) => {
  const store = memoryStore(t);
  readyVm(store);
  const lease = claimOk(t, store, request('alice'));

  t.true(store.extendLease(lease.id, lease.expiresAt + 24 * H, 0));
  t.like(store.getLease(lease.id), { expiresAt: lease.expiresAt + 24 * H, extensionsUsed: 1 });

  // A stale writer that still believes 0 extensions were used loses.
  t.false(store.extendLease(lease.id, lease.expiresAt + 99 * H, 0));
  t.like(store.getLease(lease.id), { expiresAt: lease.expiresAt + 24 * H, extensionsUsed: 1 });

  t.true(store.extendLease(lease.id, lease.expiresAt + 48 * H, 1));
  t.like(store.getLease(lease.id), { expiresAt: lease.expiresAt + 48 * H, extensionsUsed: 2 });

  // An ended lease cannot be extended.
  t.true(store.endLease(lease.id, 'released', T0 + 2 * H));
  t.false(store.extendLease(lease.id, lease.expiresAt + 72 * H, 2));
  t.like(store.getLease(lease.id), { expiresAt: lease.expiresAt + 48 * H, extensionsUsed: 2 });
  t.false(store.extendLease('no-such-lease', T0, 0));
});

test('activeLeases filters by user and pool, soonest expiry first', (t) => {
  const store = memoryStore(t);
  readyVm(store, 'physics', T0 + 1);
  readyVm(store, 'physics', T0 + 2);
  readyVm(store, 'imaging', T0 + 3);
  const a = claimOk(t, store, request('alice', { leaseMs: 10 * H }));
  const b = claimOk(t, store, request('bob', { leaseMs: 5 * H }));
  const c = claimOk(t, store, request('alice', { pool: 'imaging', leaseMs: 1 * H }));
  t.deepEqual(store.activeLeases().map((l) => l.id), [c.id, b.id, a.id]);
  t.deepEqual(store.activeLeases({ user: 'alice' }).map((l) => l.id), [c.id, a.id]);
  t.deepEqual(store.activeLeases({ pool: 'physics' }).map((l) => l.id), [b.id, a.id]);
  t.deepEqual(store.activeLeases({ user: 'alice', pool: 'physics' }).map((l) => l.id), [a.id]);
});

// ---------------------------------------------------------------------------------------------
// Reminders

test('recordReminder is insert-once per lease, stage and expiry', (t) => {
  const store = memoryStore(t);
  readyVm(store);
  const lease = claimOk(t, store, request('alice'));

  t.true(store.recordReminder(lease.id, H, lease.expiresAt, 'queued', T0 + 2 * H));
  t.false(store.recordReminder(lease.id, H, lease.expiresAt, 'queued', T0 + 3 * H), 'the same stage is never recorded twice');
  t.false(store.recordReminder(lease.id, H, lease.expiresAt, 'superseded', T0 + 3 * H), 'nor changed by a second record');
  t.deepEqual(store.activeReminders(), [{ leaseId: lease.id, beforeMs: H, expiresAt: lease.expiresAt, status: 'queued' }]);

  // Another stage, or the same stage after an extension moved the expiry, is new.
  t.true(store.recordReminder(lease.id, 10 * 60_000, lease.expiresAt, 'queued', T0 + 4 * H));
  t.true(store.recordReminder(lease.id, H, lease.expiresAt + 24 * H, 'queued', T0 + 5 * H));
  t.is(store.activeReminders().length, 3);
});

test('activeReminders lists only the reminders of active leases', (t) => {
  const store = memoryStore(t);
  readyVm(store, 'physics', T0 + 1);
  readyVm(store, 'physics', T0 + 2);
  const kept = claimOk(t, store, request('alice'));
  const ended = claimOk(t, store, request('bob'));
  t.true(store.recordReminder(kept.id, H, kept.expiresAt, 'queued', T0 + 2 * H));
  t.true(store.recordReminder(ended.id, H, ended.expiresAt, 'superseded', T0 + 2 * H));
  t.is(store.activeReminders().length, 2);

  t.true(store.endLease(ended.id, 'released', T0 + 3 * H));
  t.deepEqual(store.activeReminders(), [{ leaseId: kept.id, beforeMs: H, expiresAt: kept.expiresAt, status: 'queued' }]);
  // Ending does not forget: the record still blocks a duplicate.
  t.false(store.recordReminder(ended.id, H, ended.expiresAt, 'queued', T0 + 4 * H));
});

// ---------------------------------------------------------------------------------------------
// Pool health and ready times

test('pool health round-trips and defaults to healthy', (t) => {
  const store = memoryStore(t);
  t.deepEqual(store.poolHealth('physics'), { pool: 'physics', lastError: null, lastErrorAt: null, consecutiveFailures: 0, backoffUntil: null });
  const sick = { pool: 'physics', lastError: 'quota exceeded', lastErrorAt: T0, consecutiveFailures: 3, backoffUntil: T0 + 60_000 };
  store.savePoolHealth(sick);
  t.deepEqual(store.poolHealth('physics'), sick);
  const healed = { pool: 'physics', lastError: null, lastErrorAt: null, consecutiveFailures: 0, backoffUntil: null };
  store.savePoolHealth(healed);
  t.deepEqual(store.poolHealth('physics'), healed);
});

test('pool health keeps the fingerprint of the configuration its failures were counted under until told otherwise', (t) => {
  const store = memoryStore(t);
  const failing = { pool: 'physics', lastError: 'boot: no image', lastErrorAt: T0, consecutiveFailures: 1, backoffUntil: T0 + 30_000, spec: '{"image":"a"}' };
  store.savePoolHealth(failing);
  t.deepEqual(store.poolHealth('physics'), failing);
  store.savePoolHealth({ ...failing, consecutiveFailures: 2, spec: undefined });
  t.is(store.poolHealth('physics').spec, '{"image":"a"}', 'a health saved without a fingerprint keeps the one before');
  store.savePoolHealth({ ...failing, spec: '{"image":"b"}' });
  t.is(store.poolHealth('physics').spec, '{"image":"b"}');
  store.savePoolHealth({ ...failing, spec: null });
  t.false('spec' in store.poolHealth('physics'), 'null clears it');
});

test('recentReadyTimesMs lists creation-to-ready times of the pool, newest first', (t) => {
  const store = memoryStore(t);
  readyVm(store, 'physics', T0 + 9_000, T0);
  readyVm(store, 'physics', T0 + 20_000, T0 + 8_000);
  readyVm(store, 'physics', T0 + 15_000, T0 + 10_000);
  readyVm(store, 'imaging', T0 + 99_000, T0);
  newVm(store, 'physics', T0 + 30_000);
  t.deepEqual(store.recentReadyTimesMs('physics', 10), [12_000, 5_000, 9_000]);
  t.deepEqual(store.recentReadyTimesMs('physics', 2), [12_000, 5_000]);
});

// ---------------------------------------------------------------------------------------------
// Audit

test('audit entries round-trip, including detail JSON, and filter by since', (t) => {
  const store = memoryStore(t);
  const entries = [
    { at: T0, actor: 'alice', action: 'claim', target: 'physics', result: 'ok', detail: { vm: 'physics-ab23', lease: 'l-1', nested: { list: [1, 'two', null], flag: true } } },
    { at: T0 + 1_000, actor: 'bob', action: 'claim', target: 'physics', result: 'pool-empty' },
    { at: T0 + 2_000, actor: 'scheduler', action: 'reap', target: 'physics-ab23', result: 'ok', detail: { reason: 'expired' } },
  ];
  for (const entry of entries) store.audit(entry);

  t.deepEqual(store.auditLog(), entries);
  t.false('detail' in store.auditLog()[1]!, 'an entry without detail comes back without detail');
  t.deepEqual(store.auditLog({ since: T0 + 1_000 }), entries.slice(1));
  t.deepEqual(store.auditLog({ since: T0 + 2_001 }), []);
  t.deepEqual(store.auditLog({ limit: 2 }), entries.slice(1), 'the limit keeps the latest entries, oldest first');
});

// ---------------------------------------------------------------------------------------------
// Transactions

test('transaction() rolls back everything when the function throws', (t) => {
  const store = memoryStore(t);
  const vm = readyVm(store);
  const error = t.throws(() =>
    store.transaction(() => {
      newVm(store, 'imaging');
      store.audit({ at: T0, actor: 'x', action: 'y', target: 'z', result: 'ok' });
      const outcome = store.claim(request('alice'));
      t.true(outcome.ok);
      throw new Error('boom');
    }),
  );
  t.is(error?.message, 'boom');
  t.deepEqual(store.listVms({ pool: 'imaging' }), []);
  t.deepEqual(store.auditLog(), []);
  t.deepEqual(store.activeLeases(), []);
  t.like(store.getVm(vm.id), { state: 'ready' });
});

test('transaction() returns the value and nests: an inner call joins the outer one', (t) => {
  const store = memoryStore(t);
  const value = store.transaction(() => store.transaction(() => newVm(store).name));
  t.regex(value, /^physics-/);
  t.truthy(store.findVmByName(value), 'committed');

  t.throws(
    () =>
      store.transaction(() => {
        const inner = store.transaction(() => newVm(store, 'imaging'));
        t.truthy(store.getVm(inner.id), 'visible inside');
        store.transaction(() => store.audit({ at: T0, actor: 'x', action: 'y', target: 'z', result: 'ok' }));
        throw new Error('outer fails after the inner ones returned');
      }),
    { message: 'outer fails after the inner ones returned' },
  );
  t.deepEqual(store.listVms({ pool: 'imaging' }), [], 'the inner work was rolled back with the outer');
  t.deepEqual(store.auditLog(), []);

  // claim and endLease use transaction() themselves: inside an outer one, they roll back with it.
  readyVm(store, 'physics', T0 + 5);
  t.throws(() =>
    store.transaction(() => {
      const lease = claimOk(t, store, request('alice'));
      t.true(store.endLease(lease.id, 'released', T0 + 2 * H));
      throw new Error('undo');
    }),
  );
  t.deepEqual(store.activeLeases(), []);
  t.is(store.listVms({ states: ['ready'] }).length, 1);
  t.is(store.listVms({ states: ['releasing', 'claimed'] }).length, 0);
});

// ---------------------------------------------------------------------------------------------
// Two connections on one file

test('two connections on one file: 200 interleaved claims for 20 VMs hand each VM out once', (t) => {
  const path = storeFile(t);
  const a = new SqliteStore(path);
  t.teardown(() => a.close());
  const b = new SqliteStore(path);
  t.teardown(() => b.close());
  t.is(b.schemaVersion, MIGRATIONS.length);

  // Half the VMs are created through each connection.
  const vmIds = new Set<string>();
  for (let i = 0; i < 20; i++) vmIds.add(readyVm(i % 2 === 0 ? a : b, 'physics', T0 + (i * 7919) % 20_000, T0 + i).id);
  t.is(a.listVms({ states: ['ready'] }).length, 20);
  t.is(b.listVms({ states: ['ready'] }).length, 20);

  const granted: string[] = [];
  const reasons = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    // An irregular interleaving: runs of one connection, then the other.
    const store = (i * 37) % 5 < 2 ? a : b;
    const outcome = store.claim(request(`user-${i}`, { now: T0 + H + i }));
    if (outcome.ok) {
      granted.push(outcome.lease.vmId);
      t.is(outcome.lease.user, `user-${i}`);
    } else {
      reasons.set(outcome.reason, (reasons.get(outcome.reason) ?? 0) + 1);
    }
  }

  t.is(granted.length, 20);
  t.is(new Set(granted).size, 20, 'no VM was handed out twice');
  t.deepEqual([...granted].sort(), [...vmIds].sort());
  t.deepEqual([...reasons], [['pool-empty', 180]]);

  for (const store of [a, b]) {
    const leases = store.activeLeases();
    t.is(leases.length, 20);
    t.is(new Set(leases.map((l) => l.vmId)).size, 20);
    t.is(new Set(leases.map((l) => l.user)).size, 20);
    t.is(store.listVms({ states: ['ready'] }).length, 0);
    t.is(store.listVms({ states: ['claimed'] }).length, 20);
  }
});

test('two connections on one file: a claim sees a VM the other connection just made ready', (t) => {
  const path = storeFile(t);
  const a = new SqliteStore(path);
  t.teardown(() => a.close());
  const b = new SqliteStore(path);
  t.teardown(() => b.close());

  t.deepEqual(b.claim(request('alice')), { ok: false, reason: 'pool-empty', held: 0 });
  const vm = readyVm(a);
  const lease = claimOk(t, b, request('alice'));
  t.is(lease.vmId, vm.id);
  t.like(a.getVm(vm.id), { state: 'claimed' });
  t.deepEqual(a.claim(request('alice')), { ok: false, reason: 'lease-limit', held: 1 });
  t.deepEqual(a.claim(request('bob')), { ok: false, reason: 'pool-empty', held: 0 });
});

test('a VM keeps the host key the bot gave it; a VM made before has none', (t) => {
  const store = memoryStore(t);
  const vm = newVm(store);
  t.is(store.getVm(vm.id)!.hostKey, null);
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJelAo/L4ViAaDevp2LBS6io6T5Z1sr+9YJyWH3SFJJN';
  t.true(store.updateVm(vm.id, { hostKey: key }, T0 + 1, 'booting'));
  t.is(store.getVm(vm.id)!.hostKey, key);
  t.is(store.getVm(vm.id)!.stateSince, T0, 'setting the key is not a change of state');
  t.is(store.findVmByName(vm.name)!.hostKey, key);
});
