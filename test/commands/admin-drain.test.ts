import test from 'ava';
import { actionsOf, auditSince, filledHarness, readyCount, snapshot, tableRows, texts } from '../helpers/replies.ts';

test('admin drain without --yes asks to confirm and changes nothing', async (t) => {
  const h = await filledHarness(t);
  const before = snapshot(h);
  const r = await h.say('root', 'admin drain physics --reason image rebuild');
  t.is(r.tone, 'warning');
  t.is(r.title, 'Close physics for maintenance?');
  t.deepEqual(actionsOf(r), [{ label: 'Drain physics', command: 'admin drain physics --reason image rebuild --yes', style: 'danger' }]);
  t.deepEqual(h.store.poolControls(), []);
  t.deepEqual(snapshot(h).vms, before.vms);
  t.is(h.store.auditLog().at(-1)!.result, 'asked to confirm');
  t.is((await h.say('alice', 'claim physics')).tone, 'success', 'still open');
});

test('admin drain closes the pool: claims get the reason and whom to ask, ready VMs go, claimed ones stay; undrain reopens and refills', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  await h.run(15_000);
  const held = h.store.activeLeases({ user: 'alice' })[0]!;
  const start = h.store.auditLog().length;
  const r = await h.say('root', 'admin drain physics --reason image rebuild --yes');
  t.is(r.tone, 'success');
  t.is(r.title, 'physics is closed for maintenance');
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.action, a.target, a.result, a.detail]), [['root', 'admin drain', 'physics', 'ok', { reason: 'image rebuild' }]]);

  const refused = await h.say('bob', 'claim physics');
  t.is(refused.tone, 'error');
  t.is(refused.title, 'physics is closed for maintenance: image rebuild.');
  t.is(texts(refused), 'Ask Physics software (physics@facility.example).');
  t.is(h.store.auditLog().at(-1)!.result, 'POOL_CLOSED');
  t.is((await h.say('dave', 'claim imaging')).tone, 'success', 'other pools are open');

  await h.run(15_000);
  t.is(readyCount(h, 'physics'), 0, 'ready VMs retired');
  t.deepEqual(h.store.listVms({ pool: 'physics' }).map((v) => v.state), ['claimed'], 'only the claimed one is left');
  t.is(h.store.getVm(held.vmId)?.state, 'claimed');
  t.is((await h.cloud.listServers(h.app.reconciler.tag)).filter((s) => s.metadata['daaas:pool'] === 'physics').length, 1, 'nothing leaked in the cloud');
  const physics = tableRows(await h.say('root', 'admin pools')).find((row) => row.pool === 'physics')!;
  t.is(physics.ready, '0/0');
  t.regex(String(physics['last error / note']), /^DRAINED by root \d+s ago: image rebuild/);
  t.true(texts(await h.say('bob', 'pools')).includes('physics is closed for maintenance: image rebuild. Ask Physics software (physics@facility.example).'));

  // The holder keeps the VM until the lease ends, and may still extend it.
  t.is((await h.say('alice', 'extend')).tone, 'success');

  const open = await h.say('root', 'admin undrain physics');
  t.is(open.title, 'physics is open again');
  t.is(texts(open), 'Claims are accepted again; the pool is being refilled to 3 warm VMs.');
  await h.run(15_000);
  t.is(readyCount(h, 'physics'), 3);
  t.is((await h.say('bob', 'claim physics')).tone, 'success');
  t.deepEqual(h.store.poolControls(), []);
});

test('a drained pool keeps its resize for after undrain', async (t) => {
  const h = await filledHarness(t);
  await h.say('root', 'admin resize imaging 2');
  await h.say('root', 'admin drain imaging --yes');
  await h.run(15_000);
  t.is(readyCount(h, 'imaging'), 0);
  t.is((await h.say('dave', 'claim imaging')).title, 'imaging is closed for maintenance: no reason given.');
  await h.say('root', 'admin undrain imaging');
  await h.run(15_000);
  t.is(readyCount(h, 'imaging'), 2);
});

test('admin undrain of an open pool says so and changes nothing', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('root', 'admin undrain physics');
  t.is(r.tone, 'info');
  t.is(r.title, 'physics was not drained');
});

test('admin drain and undrain of a wrong pool are refused and audited', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  for (const input of ['admin drain tomography --yes', 'admin drain tomography', 'admin undrain physic']) t.is((await h.say('root', input)).tone, 'error', input);
  t.deepEqual(auditSince(h, start).map((a) => [a.action, a.target, a.result]), [
    ['admin drain', 'tomography', 'UNKNOWN_POOL'],
    ['admin drain', 'tomography', 'UNKNOWN_POOL'],
    ['admin undrain', 'physic', 'UNKNOWN_POOL'],
  ]);
});

test('admin drain and undrain are refused to non-admins', async (t) => {
  const h = await filledHarness(t);
  t.is((await h.say('alice', 'admin drain physics --reason no --yes')).title, '"admin drain" is for admins of the bot.');
  t.is((await h.say('alice', 'admin undrain physics')).title, '"admin undrain" is for admins of the bot.');
  t.deepEqual(h.store.poolControls(), []);
  await h.run(5_000);
  t.is(readyCount(h, 'physics'), 3);
});
