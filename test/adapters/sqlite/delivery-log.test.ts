import test from 'ava';
import { join } from 'node:path';
import { SqliteDeliveryLog } from '../../../src/adapters/sqlite/delivery-log.ts';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import { tempDir } from '../../helpers/harness.ts';

test('a delivery recorded before a restart is a repeat after it, until it expires; its answer is kept', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'daaas.db');
  const first = new SqliteStore(path);
  const before = new SqliteDeliveryLog(first);
  t.true(before.record('slack:event:Ev1', 1_000, 61_000));
  t.false(before.record('slack:event:Ev1', 2_000, 62_000));
  t.true(before.record('teams:invoke:c\u0000a1', 1_000, 601_000));
  before.keepAnswer('teams:invoke:c\u0000a1', '{"statusCode":200}');
  first.close();

  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  const after = new SqliteDeliveryLog(store);
  t.false(after.record('slack:event:Ev1', 30_000, 90_000), 'still a repeat after the restart');
  t.is(after.answerOf('teams:invoke:c\u0000a1', 30_000), '{"statusCode":200}');
  t.is(after.answerOf('teams:invoke:c\u0000a1', 601_000), undefined, 'expired');
  t.is(after.answerOf('slack:event:Ev1', 30_000), undefined, 'no answer kept');
  t.true(after.record('slack:event:Ev1', 61_000, 121_000), 'expired: recorded afresh');
  t.false(after.record('slack:event:Ev1', 62_000, 122_000));
});

test('expired deliveries are swept, so the table does not grow without bound', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const store = new SqliteStore(join(dir.path, 'daaas.db'));
  t.teardown(() => store.close());
  const log = new SqliteDeliveryLog(store);
  for (let i = 0; i < 499; i++) log.record(`k${i}`, 0, 10);
  t.true(log.record('late', 100, 200));
  const rows = store.db.prepare('SELECT key FROM inbound_deliveries').all() as { key: string }[];
  t.deepEqual(rows.map((r) => r.key), ['late']);
});

test('a delivery is recorded without its own wait for the disk, and the store goes back to waiting for it (synchronous FULL) after, even when recording fails', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const store = new SqliteStore(join(dir.path, 'daaas.db'));
  t.teardown(() => store.close());
  const FULL = 2;
  t.is(store.db.pragma('synchronous', { simple: true }), FULL);
  const log = new SqliteDeliveryLog(store);
  let during: unknown;
  const original = store.transaction.bind(store);
  store.transaction = <T>(fn: () => T): T => {
    during = store.db.pragma('synchronous', { simple: true });
    return original(fn);
  };
  t.true(log.record('slack:event:Ev9', 1_000, 61_000));
  t.is(during, 1, 'NORMAL while the delivery commits');
  t.is(store.db.pragma('synchronous', { simple: true }), FULL, 'FULL again for everything else');
  store.transaction = () => {
    throw new Error('disk I/O error');
  };
  t.throws(() => log.record('slack:event:Ev10', 1_000, 61_000), { message: 'disk I/O error' });
  t.is(store.db.pragma('synchronous', { simple: true }), FULL);
  store.transaction = original;
  // Inside a transaction of the store's own, nothing is changed: the delivery commits with it.
  original(() => {
    t.true(log.record('slack:event:Ev11', 1_000, 61_000));
    t.is(store.db.pragma('synchronous', { simple: true }), FULL);
  });
});
