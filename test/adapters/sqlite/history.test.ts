import test from 'ava';
import { SqliteHistory } from '../../../src/adapters/sqlite/history.ts';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);

/** A store with history of every age: VMs deleted long ago and lately, leases ended long ago, lately and live. */
function seeded() {
  const store = new SqliteStore(':memory:');
  const db = store.db;
  const vm = db.prepare(`INSERT INTO vms (id, name, pool, state, image, flavor, created_at, state_since) VALUES (?, ?, 'physics', ?, 'img', 'flv', ?, ?)`);
  const lease = db.prepare(`INSERT INTO leases (id, vm_id, pool, user, platform, conversation, claimed_at, expires_at, ended_at, end_reason, home_ready_at) VALUES (?, ?, 'physics', 'alice', 'shell', 'c', ?, ?, ?, ?, ?)`);
  const reminder = db.prepare(`INSERT INTO reminders (lease_id, before_ms, expires_at, status, at) VALUES (?, ?, ?, 'sent', ?)`);
  const audit = db.prepare(`INSERT INTO audit (at, actor, action, target, result) VALUES (?, 'root', 'admin log', 'x', 'ok')`);
  // Five old VMs, deleted 100 days ago, each with an ended lease and two reminder records.
  for (let i = 0; i < 5; i++) {
    vm.run(`old-${i}`, `physics-old${i}`, 'deleted', NOW - 110 * DAY, NOW - 100 * DAY);
    lease.run(`old-lease-${i}`, `old-${i}`, NOW - 105 * DAY, NOW - 101 * DAY, NOW - 100 * DAY - 1000, 'expired', NOW - 105 * DAY);
    reminder.run(`old-lease-${i}`, 3_600_000, NOW - 101 * DAY, NOW - 101 * DAY);
    reminder.run(`old-lease-${i}`, 600_000, NOW - 101 * DAY, NOW - 101 * DAY);
  }
  // Recent history: kept.
  vm.run('recent', 'physics-recent', 'deleted', NOW - 20 * DAY, NOW - 10 * DAY);
  lease.run('recent-lease', 'recent', NOW - 15 * DAY, NOW - 11 * DAY, NOW - 10 * DAY, 'released', NOW - 15 * DAY);
  reminder.run('recent-lease', 3_600_000, NOW - 11 * DAY, NOW - 11 * DAY);
  // A VM deleted long ago whose lease ended only lately (an admin's long extension): kept with it.
  vm.run('held', 'physics-held', 'deleted', NOW - 200 * DAY, NOW - 95 * DAY);
  lease.run('held-lease', 'held', NOW - 199 * DAY, NOW - 80 * DAY, NOW - 80 * DAY, 'expired', NOW - 199 * DAY);
  // Live: a claimed VM created long ago with its live lease, and a ready one.
  vm.run('live', 'physics-live', 'claimed', NOW - 300 * DAY, NOW - 300 * DAY);
  lease.run('live-lease', 'live', NOW - 300 * DAY, NOW + DAY, null, null, NOW - 300 * DAY);
  vm.run('ready', 'physics-ready', 'ready', NOW - 300 * DAY, NOW - 300 * DAY);
  // Audit records of 500, 401, 399 and 1 days ago.
  for (const days of [500, 401, 399, 1]) audit.run(NOW - days * DAY);
  return store;
}

const ids = (store: SqliteStore, table: string, column = 'id') => (store.db.prepare(`SELECT ${column} AS id FROM ${table} ORDER BY 1`).all() as { id: string | number }[]).map((r) => r.id);

test('old history goes in batches of at most N rows of each kind; recent history, live leases and VMs that exist stay', (t) => {
  const store = seeded();
  t.teardown(() => store.close());
  const history = new SqliteHistory(store);
  const cutoffs = { historyBefore: NOW - 90 * DAY, auditBefore: NOW - 400 * DAY };
  const first = history.pruneHistory(cutoffs, 2);
  t.deepEqual(first, { reminders: 2, leases: 1, vms: 1, audit: 2 }, 'the first batch: two rows of each kind at most; a lease goes once its reminder records have, a VM once its leases have');
  const batches = [first];
  for (;;) {
    const counts = history.pruneHistory(cutoffs, 2);
    batches.push(counts);
    if (Object.values(counts).every((n) => n === 0)) break;
  }
  const sum = (k: keyof (typeof batches)[number]) => batches.reduce((s, b) => s + b[k], 0);
  t.is(sum('reminders'), 10);
  t.is(sum('leases'), 5);
  t.is(sum('vms'), 5);
  t.is(sum('audit'), 2);
  t.deepEqual(ids(store, 'vms'), ['held', 'live', 'ready', 'recent']);
  t.deepEqual(ids(store, 'leases'), ['held-lease', 'live-lease', 'recent-lease']);
  t.deepEqual(ids(store, 'reminders', 'lease_id'), ['recent-lease']);
  t.is(ids(store, 'audit').length, 2);
  t.is(store.activeLeases().length, 1);
  t.deepEqual(store.db.pragma('foreign_key_check'), []);
});
