import test from 'ava';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import { tempDir } from '../../helpers/harness.ts';

test('who set a pool’s warm size is kept across a restart, and forgotten with the size', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = `${dir.path}/daaas.db`;
  const first = new SqliteStore(path);
  first.savePoolControl({ pool: 'physics', size: 7, sizeBy: { by: 'alice', at: 1_000 }, drained: null, paused: null });
  first.close();
  const second = new SqliteStore(path);
  t.teardown(() => second.close());
  t.deepEqual(second.poolControl('physics').sizeBy, { by: 'alice', at: 1_000 });
  t.is(second.poolControl('physics').size, 7);
  second.savePoolControl({ ...second.poolControl('physics'), size: null, paused: { by: 'bob', at: 2_000 } });
  t.is(second.poolControl('physics').sizeBy, null, 'no size, nobody who set it');
  t.deepEqual(second.poolControl('physics').paused, { by: 'bob', at: 2_000 });
  t.is(second.poolControl('imaging').sizeBy ?? null, null);
});
