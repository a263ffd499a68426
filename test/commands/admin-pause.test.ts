import test from 'ava';
import { auditSince, filledHarness, readyCount, tableRows } from '../helpers/replies.ts';

const HOUR = 3_600_000;

test('a paused pool boots nothing and deletes nothing, while leases still expire and remind; resume catches up', async (t) => {
  const h = await filledHarness(t);
  await h.claim('dave', 'imaging');
  const lease = h.store.activeLeases({ user: 'dave' })[0]!;
  const start = h.store.auditLog().length;
  const r = await h.say('root', 'admin pause imaging --reason looking at the image');
  t.is(r.tone, 'success');
  t.is(r.title, 'Paused: imaging');
  t.deepEqual(auditSince(h, start).map((a) => [a.action, a.target, a.result, a.detail]), [['admin pause', 'imaging', 'ok', { reason: 'looking at the image', pools: ['imaging'] }]]);
  const servers = async () => (await h.cloud.listServers(h.app.reconciler.tag)).filter((s) => s.metadata['daaas:pool'] === 'imaging').length;
  const before = await servers();
  await h.say('root', 'admin resize imaging 2');
  await h.run(24 * HOUR + 60_000, 10 * 60_000); // the 24 h lease runs out, with its reminders
  t.deepEqual(h.dms.titles('dave').map((x) => x.replace(/^\S+ /, '')), ['will be torn down in 2h', 'will be torn down in 10m', 'has been torn down']);
  t.is(h.store.getLease(lease.id)?.endReason, 'expired');
  t.is(h.store.getVm(lease.vmId)?.state, 'releasing', 'not deleted while paused');
  t.is(await servers(), before, 'nothing booted, nothing deleted');
  t.regex(String(tableRows(await h.say('root', 'admin pools')).find((row) => row.pool === 'imaging')!['last error / note']), /PAUSED by root .*paused by an admin: nothing is booted or deleted/);
  t.is(readyCount(h, 'physics'), 3, 'other pools go on');

  t.is((await h.say('root', 'admin resume imaging')).title, 'Resumed: imaging');
  await h.run(15_000);
  t.false(h.store.listVms().some((v) => v.id === lease.vmId), 'the expired VM is deleted');
  t.is(readyCount(h, 'imaging'), 2, 'refilled to its new size');
});

test('admin pause all and resume all act on every pool; repeating says nothing changed', async (t) => {
  const h = await filledHarness(t);
  t.is((await h.say('root', 'admin pause all')).title, 'Paused: physics, imaging');
  t.is((await h.say('root', 'admin pause ALL')).title, 'Already paused: physics, imaging');
  await h.claim('alice', 'physics');
  await h.run(15_000);
  t.is(readyCount(h, 'physics'), 2, 'not refilled while paused');
  t.is((await h.say('root', 'admin resume all --yes')).title, 'Resumed: physics, imaging');
  t.is((await h.say('root', 'admin resume all')).title, 'Not paused: physics, imaging');
  await h.run(15_000);
  t.is(readyCount(h, 'physics'), 3);
});

test('admin pause and resume of a wrong pool are refused and audited; non-admins are refused', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  t.is((await h.say('root', 'admin pause tomography')).title, 'There is no pool called "tomography".');
  t.is((await h.say('root', 'admin resume imagin')).title, 'There is no pool called "imagin". Did you mean imaging?');
  t.is((await h.say('alice', 'admin pause all')).title, '"admin pause" is for admins of the bot.');
  t.is((await h.say('alice', 'admin resume all')).title, '"admin resume" is for admins of the bot.');
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.action, a.result]), [
    ['root', 'admin pause', 'UNKNOWN_POOL'],
    ['root', 'admin resume', 'UNKNOWN_POOL'],
    ['alice', 'admin pause', 'ADMIN_ONLY'],
    ['alice', 'admin resume', 'ADMIN_ONLY'],
  ]);
  t.deepEqual(h.store.poolControls(), []);
});
