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
  t.deepEqual(tableOf(r)?.columns, ['holder', 'VM', 'pool', 'expires', 'time left', 'extensions used', 'home ready', 'activity', 'idle h']);
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

test('admin leases shows what the latest probe saw: BUSY with the job, idle for how long, unknown; idle hours over the lease', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  await h.claim('dave', 'imaging');
  const alice = h.store.activeLeases({ user: 'alice' })[0]!;
  const dave = h.store.activeLeases({ user: 'dave' })[0]!;
  t.deepEqual(tableRows(await h.say('root', 'admin leases')).map((row) => row.activity), ['unknown', 'unknown'], 'never probed: unknown');
  h.activity.set(alice.vm.name, { state: 'busy', job: { command: 'python', cpuPercent: 390, startedAt: h.clock.now() } });
  for (let i = 0; i < 3; i++) {
    await h.app.activity!.runDue();
    await h.clock.advance(30 * 60_000);
  }
  await h.app.activity!.runDue();
  const rows = tableRows(await h.say('root', 'admin leases'));
  const byHolder = Object.fromEntries(rows.map((row) => [row.holder, row]));
  t.regex(String(byHolder.alice!.activity), /^BUSY: python \((1h \d+m|2h), 390% CPU\)$/);
  t.regex(String(byHolder.dave!.activity), /^idle 1h/);
  t.is(byHolder.alice!['idle h'], '0.0');
  t.not(byHolder.dave!['idle h'], '0.0');
  t.not(dave.vm.name, alice.vm.name);
  const pools = await h.sayText('root', 'admin pools');
  t.regex(pools, /physics: 1 busy; idle 0\.0 VM-hours/);
  t.regex(pools, /imaging: 1 idle; idle 1\.\d VM-hours/);
});
