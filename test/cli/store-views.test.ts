import test from 'ava';
import { poolsView } from '../../src/cli/store-views.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createHarness, TEST_CONFIG } from '../helpers/harness.ts';

test('pools lists a pool removed from the configuration until nothing of it is left, and admins’ sizes', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  h.store.savePoolControl({ pool: 'imaging', size: 2, drained: null, paused: null });
  const renamed = parseConfig(TEST_CONFIG.replace('\n  physics:\n', '\n  physic:\n'), 'renamed.yaml', {});
  let out = '';
  poolsView({ json: false, write: (text) => (out += text) }, renamed, h.store);
  t.regex(out, /physics \(removed from configuration\)\s+0\s+0\s+1\s+0\s+2\s+1\s+0\s+0\s+removed from configuration: 1 claimed VM kept until its lease ends \(no extensions\); 3 other VMs being deleted/);
  t.regex(out, /imaging\s+2\s+2\s.*size 2 set by an admin \(configured 1\)/);
  let json = '';
  poolsView({ json: true, write: (text) => (json += text) }, renamed, h.store);
  const rows = JSON.parse(json) as { pool: string; claimed: number; removed: string | null }[];
  t.deepEqual(rows.map((r) => [r.pool, r.removed !== null]), [['physic', false], ['imaging', false], ['physics', true]]);
  // Once its last VM is gone, the pool is gone from the list.
  for (const vm of h.store.listVms({ pool: 'physics' })) h.store.updateVm(vm.id, { state: 'deleted' }, h.clock.now());
  out = '';
  poolsView({ json: false, write: (text) => (out += text) }, renamed, h.store);
  t.notRegex(out, /physics/);
});
