import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirError, lockDataDir } from '../../../src/adapters/data-dir-lock.ts';
import { backupStore, checkStoreFile, NotAStoreError, restoreStore, STORE_FILE } from '../../../src/adapters/sqlite/backup.ts';
import { MIGRATIONS } from '../../../src/adapters/sqlite/migrations.ts';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import { tempDir } from '../../helpers/harness.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 26, 9);

/** A store in a data directory with `ready` ready VMs of pool p. */
function storeWith(t: ExecutionContext, ready: number): { dir: string; path: string; store: SqliteStore } {
  const dir = tempDir('daaas-backup-');
  t.teardown(dir.remove);
  const path = join(dir.path, 'var', STORE_FILE);
  lockDataDir(join(dir.path, 'var'))();
  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  store.transaction(() => {
    for (let i = 0; i < ready; i++) {
      const vm = store.createVm({ pool: 'p', image: 'p-base', flavor: 'c1.large', createdAt: T0 });
      store.updateVm(vm.id, { state: 'ready', serverId: `srv-${i}`, address: `10.0.${i >> 8}.${i & 255}`, readyAt: T0 }, T0);
    }
  });
  return { dir: dir.path, path, store };
}

/** How many VMs of a store file are in `state`. */
function copyCount(file: string, state: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM vms WHERE state = ?').get(state) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The store's own rules, read from a restored copy. */
function assertInvariants(t: ExecutionContext, store: SqliteStore): void {
  const leases = store.activeLeases();
  const leased = leases.map((l) => l.vmId);
  t.is(new Set(leased).size, leased.length, 'no VM is in two live leases');
  for (const lease of leases) t.is(lease.vm.state, 'claimed', `${lease.vm.name} is leased but ${lease.vm.state}`);
  const claimed = store.listVms({ states: ['claimed'] });
  for (const vm of claimed) t.is(leased.filter((id) => id === vm.id).length, 1, `${vm.name} is claimed with exactly one live lease`);
  t.is(claimed.length, leases.length);
  const names = store.listVms().map((v) => v.name);
  t.is(new Set(names).size, names.length, 'VM names are unique');
}

test('a backup taken in the middle of claims and releases restores into a fresh data directory with every invariant holding', async (t) => {
  const { dir, path, store } = storeWith(t, 400);
  // Some history, so the copy spans many pages.
  for (let i = 0; i < 2_000; i++) store.audit({ at: T0, actor: `user${i % 50}`, action: 'claim', target: `p-${i}`, result: 'ok', detail: { note: 'x'.repeat(100) } });

  let now = T0;
  let running = true;
  let claims = 0;
  let releases = 0;
  const claimsAt: number[] = [];
  // Claims (and some releases) on the store's own connection, one per turn of the event loop,
  // interleaved with the backup's steps on its connection.
  const worker = (async () => {
    for (let i = 0; running; i++) {
      now += 1_000;
      const outcome = store.claim({ pool: 'p', user: `user${i}`, platform: 'shell', conversation: 'c', now, leaseMs: 48 * HOUR, maxLeasesPerUser: 1 });
      if (outcome.ok) claims++;
      if (i % 3 === 2) {
        const [first] = store.activeLeases();
        if (first && store.endLease(first.id, 'released', now)) {
          store.updateVm(first.vmId, { state: 'releasing' }, now, 'claimed');
          releases++;
        }
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  })();
  while (claims < 20) await new Promise<void>((resolve) => setImmediate(resolve));
  claimsAt.push(claims);
  const file = join(dir, 'backup.db');
  const backup = await backupStore(path, file);
  claimsAt.push(claims);
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  running = false;
  await worker;
  t.log(`backup of ${backup.bytes} bytes in ${backup.ms.toFixed(1)} ms; claims ${claimsAt[0]} → ${claimsAt[1]} while it ran (${claims} claims, ${releases} releases in all)`);
  t.true(claimsAt[1]! > claimsAt[0]!, 'claims went on while the backup ran');
  t.is(backup.schemaVersion, MIGRATIONS.length);
  t.false(readdirSync(dir).some((f) => f.includes('partial')), 'no partial file is left');
  t.is(statSync(file).mode & 0o777, 0o600, 'readable by its owner only');

  const fresh = join(dir, 'restored');
  const restored = restoreStore(fresh, file, T0);
  t.is(restored.keptAs, null, 'nothing to keep in a fresh directory');
  t.is(restored.retired, 400 - backup.activeLeases - copyCount(file, 'releasing'), 'every VM ready in the backup is retired');
  t.deepEqual(restored.summary, { schemaVersion: backup.schemaVersion, vms: backup.vms, activeLeases: backup.activeLeases, bytes: restored.summary.bytes });
  const copy = new SqliteStore(join(fresh, STORE_FILE));
  t.teardown(() => copy.close());
  assertInvariants(t, copy);
  t.is(copy.listVms({ states: ['ready'] }).length, 0, 'no VM ready in the backup can be handed out again');
  t.is(copy.listVms({ states: ['releasing'] }).filter((vm) => /restored from a backup/.test(vm.detail ?? '')).length, restored.retired);
  // A consistent moment between the backup's start and end: as many leases as then, and the
  // audit trail whole.
  t.true(copy.activeLeases().length >= 1);
  t.true(copy.listVms().length === 400);
  t.is(copy.auditLog({ since: 0, limit: 10_000 }).length, 2_000);
  assertInvariants(t, store);
});

test('restore refuses while a bot holds the data directory, and changes nothing', (t) => {
  const { dir, path } = storeWith(t, 3);
  const file = join(dir, 'backup.db');
  writeFileSync(file, readFileSync(path));
  const dataDir = join(dir, 'var');
  const unlock = lockDataDir(dataDir);
  t.teardown(unlock);
  const before = readdirSync(dataDir).sort();
  const error = t.throws(() => restoreStore(dataDir, file, T0), { instanceOf: DataDirError });
  t.regex(error!.message, /a DAaaS bot is using the data directory .*; stop it first/);
  t.deepEqual(readdirSync(dataDir).sort(), before);
});

test('restore checks the file is a DAaaS store this bot can use; a refused file changes nothing', (t) => {
  const { dir, store } = storeWith(t, 1);
  const dataDir = join(dir, 'var');
  const before = readdirSync(dataDir).sort();
  const refused = (name: string, pattern: RegExp) => {
    const error = t.throws(() => restoreStore(dataDir, join(dir, name), T0), { instanceOf: NotAStoreError });
    t.regex(error!.message, pattern);
    t.deepEqual(readdirSync(dataDir).sort(), before, `${name}: the data directory is as it was`);
  };
  refused('missing.db', /missing\.db does not exist/);
  writeFileSync(join(dir, 'text.db'), 'not a database\n'.repeat(100));
  refused('text.db', /text\.db is not an SQLite database/);
  const other = new Database(join(dir, 'other.db'));
  other.exec('CREATE TABLE things (id INTEGER)');
  other.close();
  refused('other.db', /other\.db is an SQLite database but not a DAaaS store/);
  const newer = new Database(join(dir, 'newer.db'));
  newer.exec('CREATE TABLE vms (id TEXT); CREATE TABLE leases (id TEXT); CREATE TABLE audit (id TEXT);');
  newer.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  newer.close();
  refused('newer.db', /newer\.db was written by a newer version of the bot/);
  t.is(store.listVms().length, 1);
});

test('restore keeps the store it replaces beside it; the backup file itself is left untouched', async (t) => {
  const { dir, path, store } = storeWith(t, 2);
  const file = join(dir, 'backup.db');
  await backupStore(path, file);
  const backupBytes = readFileSync(file);
  store.claim({ pool: 'p', user: 'later', platform: 'shell', conversation: 'c', now: T0 + 1, leaseMs: HOUR, maxLeasesPerUser: 1 });
  store.close();
  const restored = restoreStore(join(dir, 'var'), file, T0 + 2 * HOUR);
  t.regex(restored.keptAs!, /daaas\.db\.before-restore-2026-11-26T11-00-00-000Z$/);
  const kept = new SqliteStore(restored.keptAs!, { readOnly: true });
  t.teardown(() => kept.close());
  t.is(kept.activeLeases().length, 1, 'the replaced store still has the later claim');
  const back = new SqliteStore(join(dir, 'var', STORE_FILE));
  t.teardown(() => back.close());
  t.is(back.activeLeases().length, 0, 'the restored store is the backup');
  t.deepEqual(readFileSync(file), backupBytes);
  t.true(existsSync(file));
  t.deepEqual(checkStoreFile(file).vms, 2);
});

test('a backup refuses to overwrite the store, and a directory that does not exist is said plainly', async (t) => {
  const { dir, path } = storeWith(t, 1);
  await t.throwsAsync(backupStore(path, path), { instanceOf: NotAStoreError, message: /cannot overwrite the store itself/ });
  await t.throwsAsync(backupStore(path, join(dir, 'nowhere', 'b.db')), { instanceOf: NotAStoreError, message: /could not be written to .*nowhere\/b\.db: .*directory does not exist/ });
});
