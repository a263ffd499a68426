import test from 'ava';
import { auditSince, fieldBlocks, filledHarness, snapshot, texts } from '../helpers/replies.ts';

const DAY = 86_400_000;

test('admin extend pushes anyone’s expiry out beyond the pool’s extensions; the holder is told who and why', async (t) => {
  const h = await filledHarness(t);
  await h.claim('dave', 'imaging');
  const lease = h.store.activeLeases({ user: 'dave' })[0]!;
  await h.say('dave', 'extend'); // imaging allows one extension
  t.is((await h.say('dave', 'extend')).tone, 'error', 'the pool’s limit is reached');
  const before = h.store.getLease(lease.id)!;
  const start = h.store.auditLog().length;
  const r = await h.say('root', `admin extend ${lease.vm.name} 2d --reason beam time moved`);
  t.is(r.tone, 'success');
  t.is(r.title, `${lease.vm.name} extended`);
  const after = h.store.getLease(lease.id)!;
  t.is(after.expiresAt, before.expiresAt + 2 * DAY);
  t.is(after.extensionsUsed, before.extensionsUsed, 'not counted against the pool’s extensions');
  t.deepEqual(fieldBlocks(r)[0]!.get('Expires'), { time: after.expiresAt });
  const audit = auditSince(h, start);
  t.deepEqual(audit.map((a) => [a.actor, a.action, a.target, a.result]), [['root', 'admin extend', `${lease.vm.name} 2d`, 'ok']]);
  t.like(audit[0]!.detail, { reason: 'beam time moved', user: 'dave', by: '2d', expiresAt: after.expiresAt });
  await h.tick();
  const told = h.dms.sent.filter((s) => s.to.user === 'dave');
  t.deepEqual(told.map((s) => s.message.title), [`${lease.vm.name} was extended by 2d`]);
  t.true(texts(told[0]!.message).includes('An admin, root, extended your lease: beam time moved.'));
});

test('admin extend twice tells the holder twice (one message per new expiry)', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  await h.say('root', `admin extend ${vm} 12h`);
  await h.say('root', `admin extend ${vm} 12h`);
  await h.tick();
  t.is(h.dms.titles('alice').filter((title) => title.includes('was extended')).length, 2);
});

test('admin extend stops at the cap (7 days from the claim by default) and says how much is left', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const before = snapshot(h);
  const r = await h.say('root', `admin extend ${lease.vm.name} 6d`);
  t.is(r.tone, 'error');
  t.is(r.title, `${lease.vm.name} would then last 8d from its claim; admins may extend a lease to 7d in all.`);
  t.is(texts(r), `At most: admin extend ${lease.vm.name} 5d`);
  t.deepEqual(snapshot(h).leases, before.leases);
  t.is(h.store.auditLog().at(-1)!.result, 'LEASE_CAP');
  t.is((await h.say('root', `admin extend ${lease.vm.name} 5d`)).tone, 'success', 'exactly to the cap');
  t.is((await h.say('root', `admin extend ${lease.vm.name} 1m`)).title, `${lease.vm.name} would then last 7d 1m from its claim; admins may extend a lease to 7d in all.`);
});

test('the cap comes from access.adminMaxLease', async (t) => {
  const { TEST_CONFIG } = await import('../helpers/harness.ts');
  const h = await filledHarness(t, { config: TEST_CONFIG.replace('  admins: [root]', '  admins: [root]\n  adminMaxLease: 3d') });
  await h.claim('alice', 'physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  t.is((await h.say('root', `admin extend ${vm} 2d`)).tone, 'error');
  t.is((await h.say('root', `admin extend ${vm} 1d`)).tone, 'success');
});

test('admin extend of a wrong VM, a ready one, or with a bad duration is refused and audited', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const ready = h.store.listVms({ pool: 'physics', states: ['ready'] })[0]!.name;
  const start = h.store.auditLog().length;
  t.is((await h.say('root', `admin extend ${ready} 1d`)).title, `No VM called "${ready}" is claimed at the moment.`);
  t.is((await h.say('root', 'admin extend physics-zzzz 1d')).title, 'No VM called "physics-zzzz" is claimed at the moment.');
  const bad = await h.say('root', `admin extend ${vm} soon`);
  t.is(bad.title, '"soon" is not a duration.');
  t.is((await h.say('root', `admin extend ${vm}`)).tone, 'error');
  t.deepEqual(auditSince(h, start).map((a) => a.result), ['UNKNOWN_VM', 'UNKNOWN_VM', 'BAD_INPUT', 'BAD_INPUT']);
});

test('admin extend is refused to non-admins, the holder included', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const before = snapshot(h);
  const r = await h.say('alice', `admin extend ${vm} 5d`);
  t.is(r.title, '"admin extend" is for admins of the bot.');
  t.deepEqual(snapshot(h).leases, before.leases);
  t.is(h.store.auditLog().at(-1)!.result, 'ADMIN_ONLY');
});
