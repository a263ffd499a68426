import { join } from 'node:path';
import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { createHarness, tempDir } from '../helpers/harness.ts';
import { actionsOf, auditSince, filledHarness, readyCount, tableRows, texts } from '../helpers/replies.ts';

test('admin resize up fills the pool to the new size at once, and admin pools and pools show the override', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  const r = await h.say('root', 'admin resize physics 5 --reason beam time starts');
  t.is(r.tone, 'success');
  t.is(r.title, 'physics keeps 5 VMs warm (configured: 3)');
  t.is(texts(r), 'The pool is being filled to 5 now.\nBack to the configured size with: admin resize physics reset');
  const audit = auditSince(h, start);
  t.deepEqual(audit.map((a) => [a.actor, a.action, a.target, a.result]), [['root', 'admin resize', 'physics 5', 'ok']]);
  t.deepEqual(audit[0]!.detail, { reason: 'beam time starts', size: 5 });
  const resizedAt = h.clock.now();
  let readyAt = 0;
  for (let i = 0; i < 30 && !readyAt; i++) {
    await h.run(1_000, 1_000);
    if (readyCount(h, 'physics') === 5) readyAt = h.clock.now();
  }
  t.true(readyAt > 0, 'five ready');
  t.log(`resize to 5 ready after ${(readyAt - resizedAt) / 1000} s of simulated time (5 s boot, 4 s provisioning)`);
  t.true(readyAt - resizedAt <= 12_000);
  const physics = tableRows(await h.say('root', 'admin pools')).find((row) => row.pool === 'physics')!;
  t.is(physics.ready, '5/5');
  t.regex(String(physics['last error / note']), /^size 5: set by admin root \(configured 3; admin resize physics reset\)/);
  t.true(texts(await h.say('alice', 'pools')).includes('physics warm size 5: set by admin root (usually 3).'));
});

test('admin resize down retires the surplus ready VMs and never touches claimed ones; reset returns to the configured size', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  await h.run(15_000);
  const held = h.store.activeLeases({ user: 'alice' })[0]!;
  const r = await h.say('root', 'admin resize physics 0 --yes');
  t.is(r.title, 'physics keeps 0 VMs warm (configured: 3)');
  t.true(texts(r).startsWith('Ready VMs beyond 0 are retired now; claimed ones are not touched.'));
  await h.run(15_000);
  t.is(readyCount(h, 'physics'), 0);
  t.is(h.store.getVm(held.vmId)?.state, 'claimed');
  t.is((await h.say('alice', 'claim physics')).tone, 'error', 'nothing left to claim');
  const reset = await h.say('root', 'admin resize physics reset');
  t.is(reset.title, 'physics keeps 3 VMs warm, as configured');
  t.deepEqual(h.store.poolControls(), [], 'nothing overridden any more');
  await h.run(15_000);
  t.is(readyCount(h, 'physics'), 3);
  t.is(tableRows(await h.say('root', 'admin pools')).find((row) => row.pool === 'physics')!['last error / note'], '-');
});

test('a resize outlives a restart', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const clock = new ManualClock();
  const paths = { storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'cloud.json'), clock };
  const first = createHarness(paths);
  await first.run(12_000);
  await first.say('root', 'admin resize imaging 2');
  await first.run(12_000);
  t.is(readyCount(first, 'imaging'), 2);
  await first.close();
  const second = createHarness(paths);
  t.teardown(() => second.close());
  await second.run(12_000);
  t.is(readyCount(second, 'imaging'), 2, 'still two, not the configured one');
  t.is(tableRows(await second.say('root', 'admin pools')).find((row) => row.pool === 'imaging')!.ready, '2/2');
});

test('admin resize beyond the maximum, a wrong pool or a size that is no number is refused and audited', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  t.is((await h.say('root', 'admin resize physics 7')).title, 'physics can keep 0 to 6 VMs warm (its maximum); 7 is out of range.');
  t.is((await h.say('root', 'admin resize physic 2')).title, 'There is no pool called "physic". Did you mean physics?');
  t.is((await h.say('root', 'admin resize physics lots')).title, '"lots" is not a size: write a whole number or reset.');
  t.deepEqual(auditSince(h, start).map((a) => [a.target, a.result]), [
    ['physics 7', 'BAD_INPUT'],
    ['physic 2', 'UNKNOWN_POOL'],
    ['physics lots', 'BAD_INPUT'],
  ]);
  t.deepEqual(h.store.poolControls(), []);
});

test('admin resize is refused to non-admins and changes nothing', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'admin resize physics 6 --yes');
  t.is(r.title, '"admin resize" is for admins of the bot.');
  t.deepEqual(actionsOf(r), []);
  t.deepEqual(h.store.poolControls(), []);
  t.deepEqual(h.store.auditLog().at(-1), { at: h.clock.now(), actor: 'alice', action: 'admin resize', target: 'physics 6', result: 'ADMIN_ONLY' });
});
