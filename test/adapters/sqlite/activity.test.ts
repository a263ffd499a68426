import test from 'ava';
import { join } from 'node:path';
import { SqliteActivity } from '../../../src/adapters/sqlite/activity.ts';
import { SqliteHistory } from '../../../src/adapters/sqlite/history.ts';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import type { LeaseActivity } from '../../../src/ports/activity.ts';
import { tempDir } from '../../helpers/harness.ts';

const H = 3_600_000;

function claimed(store: SqliteStore, now = 0) {
  const vm = store.createVm({ pool: 'excitations', image: 'img', flavor: 'flv', createdAt: now });
  store.updateVm(vm.id, { state: 'ready', readyAt: now }, now);
  const outcome = store.claim({ pool: 'excitations', user: 'alice', platform: 'shell', conversation: 'c', now, leaseMs: 48 * H, maxLeasesPerUser: 5 });
  if (!outcome.ok) throw new Error('no claim');
  return outcome.lease;
}

const record = (leaseId: string, over: Partial<LeaseActivity> = {}): LeaseActivity => ({
  leaseId,
  pool: 'excitations',
  lastProbeAt: 5 * H,
  lastReport: { at: 5 * H, sessions: [], busy: [{ pid: 9, command: 'python', elapsedMs: H, cpuPercent: 390, gpu: false }], load: [4, 3, 2], gpuPercent: [], files: { count: 1, bytes: 10, largest: [{ path: '/tmp/a', bytes: 10, modifiedAt: 1 }], newest: [], truncated: false } },
  lastError: null,
  idleSince: null,
  idleMs: 2 * H,
  promptedAt: 3 * H,
  keptAt: 4 * H,
  grace: null,
  ...over,
});

test('a lease’s activity is written whole, read back, and listed while the lease is active', (t) => {
  const store = new SqliteStore(':memory:');
  const activity = new SqliteActivity(store.db);
  const lease = claimed(store);
  t.is(activity.leaseActivity(lease.id), undefined);
  activity.saveLeaseActivity(record(lease.id));
  t.deepEqual(activity.leaseActivity(lease.id), record(lease.id));
  const failed = record(lease.id, { lastError: 'timed out', lastReport: null, grace: { at: 48 * H, until: 50 * H, job: 'python (1h, 390% CPU)' } });
  activity.saveLeaseActivity(failed);
  t.deepEqual(activity.leaseActivity(lease.id), failed);
  t.deepEqual(activity.activeLeaseActivity(), [failed]);
  store.endLease(lease.id, 'expired', 51 * H);
  t.deepEqual(activity.activeLeaseActivity(), [], 'ended leases are not listed');
});

test('the grace given survives a restart (the store reopened)', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'daaas.db');
  const first = new SqliteStore(path);
  const lease = claimed(first);
  new SqliteActivity(first.db).saveLeaseActivity(record(lease.id, { grace: { at: 48 * H, until: 50 * H, job: 'python' } }));
  first.close();
  const second = new SqliteStore(path);
  t.teardown(() => second.close());
  t.deepEqual(new SqliteActivity(second.db).leaseActivity(lease.id)?.grace, { at: 48 * H, until: 50 * H, job: 'python' });
});

test('forgetting an old lease forgets its activity with it', (t) => {
  const store = new SqliteStore(':memory:');
  const activity = new SqliteActivity(store.db);
  const lease = claimed(store, 0);
  activity.saveLeaseActivity(record(lease.id));
  store.endLease(lease.id, 'expired', H);
  const pruned = new SqliteHistory(store).pruneHistory({ historyBefore: 100 * 86_400_000, auditBefore: 0 }, 100);
  t.is(pruned.leases, 1);
  t.is(activity.leaseActivity(lease.id), undefined);
});
