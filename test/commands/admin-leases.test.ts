import test from 'ava';
import { auditSince, filledHarness, tableOf, tableRows } from '../helpers/replies.ts';

test('admin leases lists every live lease, soonest expiry first, with holder, pool, extensions and home', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  await h.claim('dave', 'imaging');
  await h.say('alice', 'extend');
  const start = h.store.auditLog().length;
  const r = await h.say('root', 'admin leases');
  t.is(r.tone, 'info');
  t.is(r.title, '2 live leases');
  t.deepEqual(tableOf(r)?.columns, ['holder', 'VM', 'pool', 'expires', 'time left', 'extensions used', 'home ready']);
  const rows = tableRows(r);
  t.deepEqual(rows.map((row) => [row.holder, row.pool, row['extensions used'], row['home ready']]), [
    ['dave', 'imaging', '0', 'yes'],
    ['alice', 'physics', '1', 'yes'],
  ]);
  t.is(rows[1]!.VM, h.store.activeLeases({ user: 'alice' })[0]!.vm.name);
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.action, a.target, a.result]), [['root', 'admin leases', '-', 'ok']]);
});

test('admin leases <pool> lists that pool only; --yes is accepted and harmless', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  await h.claim('dave', 'imaging');
  const r = await h.say('root', 'admin leases imaging --yes');
  t.is(r.title, '1 live lease in imaging');
  t.deepEqual(tableRows(r).map((row) => row.holder), ['dave']);
  t.is((await h.say('root', 'admin leases imaging')).title, '1 live lease in imaging');
});

test('admin leases says so when nobody holds a VM', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('root', 'admin leases physics');
  t.is(r.title, 'No live leases in physics');
});

test('admin leases of a wrong pool is refused with the pools, and audited', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  const r = await h.say('root', 'admin leases physic');
  t.is(r.tone, 'error');
  t.is(r.title, 'There is no pool called "physic". Did you mean physics?');
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.action, a.target, a.result]), [['root', 'admin leases', 'physic', 'UNKNOWN_POOL']]);
});

test('admin leases is refused to non-admins, who learn nothing of other leases', async (t) => {
  const h = await filledHarness(t);
  await h.claim('dave', 'imaging');
  const start = h.store.auditLog().length;
  const r = await h.say('alice', 'admin leases');
  t.is(r.tone, 'error');
  t.is(r.title, '"admin leases" is for admins of the bot.');
  t.false(JSON.stringify(r).includes('dave'));
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.action, a.target, a.result]), [['alice', 'admin leases', '-', 'ADMIN_ONLY']]);
});
