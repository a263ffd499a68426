import test from 'ava';
import { actionsOf, auditSince, filledHarness, onlyFields, readyCount, snapshot, texts } from '../helpers/replies.ts';

const HOUR = 3_600_000;

test('claim hands out a ready VM at once: name, address, expiry, connect text, actions', async (t) => {
  const h = await filledHarness(t);
  const now = h.clock.now();
  const ready = h.store.listVms({ pool: 'physics', states: ['ready'] }).map((v) => v.name);
  const r = await h.say('alice', 'claim physics');
  t.is(r.tone, 'success', JSON.stringify(r));

  const leases = h.store.activeLeases({ user: 'alice' });
  t.is(leases.length, 1);
  const lease = leases[0]!;
  t.true(ready.includes(lease.vm.name), 'a VM that was ready');
  t.is(lease.vm.state, 'claimed');
  t.is(lease.pool, 'physics');
  t.is(lease.claimedAt, now);
  t.is(lease.expiresAt, now + 48 * HOUR);
  t.is(lease.extensionsUsed, 0);
  t.truthy(lease.vm.address);

  t.is(r.title, `${lease.vm.name} is yours for 2d`);
  t.is(texts(r).split('\n')[0], 'Your account and home directory are being set up on it: a message follows when they are ready. You will be reminded 1d, 1h, 10m before it is torn down.');
  const f = onlyFields(t, r);
  t.is(f.get('VM'), lease.vm.name);
  t.is(f.get('Pool'), 'physics');
  t.is(f.get('Address'), lease.vm.address!);
  t.deepEqual(f.get('Expires'), { time: now + 48 * HOUR });
  t.deepEqual(f.get('Time left'), { duration: 48 * HOUR });
  t.is(f.get('Extensions left'), '2 of 2 (each +1d)');
  t.true(texts(r).includes(`Connect: ssh alice@${lease.vm.address}`), texts(r));
  t.deepEqual(actionsOf(r), [
    { label: 'Extend +1d', command: `extend ${lease.vm.name}`, style: 'primary' },
    { label: 'Release', command: `release ${lease.vm.name}`, style: 'danger' },
  ]);
  t.is(readyCount(h, 'physics'), 2);

  const shown = await h.sayText('bob', 'claim physics');
  t.regex(shown, /^✔ physics-\w+ is yours for 2d\n/);
  t.regex(shown, /\n {2}Expires: {9}Wed 7 Jan, 09:00 UTC \(in 2d\)\n/);
  t.regex(shown, /\[Extend \+1d: extend physics-\w+\] {2}\[Release: release physics-\w+\]$/);
});

test('claim of the imaging pool uses its own lease, reminders and extension step', async (t) => {
  const h = await filledHarness(t);
  const now = h.clock.now();
  const r = await h.say('dave', 'claim imaging');
  t.is(r.tone, 'success');
  const lease = h.store.activeLeases({ user: 'dave' })[0]!;
  t.is(r.title, `${lease.vm.name} is yours for 1d`);
  t.true(texts(r).includes('You will be reminded 2h, 10m before it is torn down.'));
  t.is(lease.expiresAt, now + 24 * HOUR);
  t.is(onlyFields(t, r).get('Extensions left'), '1 of 1 (each +12h)');
  t.is(actionsOf(r)[0]?.label, 'Extend +12h');
});

test('pool names are case-insensitive', async (t) => {
  const h = await filledHarness(t);
  t.is((await h.say('alice', 'claim PHYSICS')).tone, 'success');
  t.is(h.store.activeLeases({ user: 'alice' })[0]?.pool, 'physics');
});

test('a second claim in the same pool is refused with LEASE_LIMIT naming the VM held', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const held = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const before = snapshot(h);
  const r = await h.say('alice', 'claim physics');
  t.is(r.tone, 'error');
  t.is(r.title, `You already hold ${held} from physics; the pool allows 1 per person.`);
  t.is(texts(r), `Use it, extend it, or release it first: release ${held}`);
  const after = snapshot(h);
  t.deepEqual(after.vms, before.vms);
  t.deepEqual(after.leases, before.leases);
  t.deepEqual(auditSince(h, before.audit).map((a) => [a.actor, a.action, a.target, a.result]), [['alice', 'claim', 'physics', 'LEASE_LIMIT']]);
});

test('claim in a pool one may not use is refused with NOT_ALLOWED naming the owner contact', async (t) => {
  const h = await filledHarness(t);
  const before = snapshot(h);
  const r = await h.say('alice', 'claim imaging');
  t.is(r.tone, 'error');
  t.is(r.title, 'Pool imaging is for members of imaging, and you are not one.');
  t.is(texts(r), 'Ask Imaging group (imaging@facility.example) for access.');
  const dave = await h.say('dave', 'claim physics');
  t.is(dave.title, 'Pool physics is for members of physics, and you are not one.');
  t.true(texts(dave).includes('physics@facility.example'));
  const stranger = await h.say('mallory', 'claim physics');
  t.is(stranger.tone, 'error');
  t.true(texts(stranger).includes('Physics software (physics@facility.example)'));
  const after = snapshot(h);
  t.deepEqual(after.vms, before.vms);
  t.deepEqual(after.leases, before.leases);
  t.deepEqual(
    auditSince(h, before.audit).map((a) => [a.actor, a.target, a.result]),
    [
      ['alice', 'imaging', 'NOT_ALLOWED'],
      ['dave', 'physics', 'NOT_ALLOWED'],
      ['mallory', 'physics', 'NOT_ALLOWED'],
    ],
  );
});

test('an admin may claim from every pool, one VM in each', async (t) => {
  const h = await filledHarness(t);
  t.is((await h.say('root', 'claim imaging')).tone, 'success');
  t.is((await h.say('root', 'claim physics')).tone, 'success');
  t.deepEqual(h.store.activeLeases({ user: 'root' }).map((l) => l.pool).sort(), ['imaging', 'physics']);
  // The per-person limit still holds for admins.
  t.is((await h.say('root', 'claim physics')).title.startsWith('You already hold'), true);
});

test('an unknown pool is refused with the pool list and a suggestion for a typo', async (t) => {
  const h = await filledHarness(t);
  const before = snapshot(h);
  const typo = await h.say('alice', 'claim phisics');
  t.is(typo.tone, 'error');
  t.is(typo.title, 'There is no pool called "phisics". Did you mean physics?');
  t.is(texts(typo), 'Pools: physics, imaging. See them with: pools');
  const far = await h.say('alice', 'claim astronomy');
  t.is(far.title, 'There is no pool called "astronomy".');
  t.is(texts(far), 'Pools: physics, imaging. See them with: pools');
  const after = snapshot(h);
  t.deepEqual({ ...after, audit: before.audit }, before, 'no VM or lease changed');
  t.deepEqual(auditSince(h, before.audit).map((e) => e.result), ['UNKNOWN_POOL', 'UNKNOWN_POOL'], 'each refusal is audited');
});

test('claim on an empty pool gives POOL_EMPTY: refilling, and when the next VM is expected', async (t) => {
  const h = await filledHarness(t);
  for (const user of ['alice', 'bob', 'carol']) t.is((await h.say(user, 'claim physics')).tone, 'success', user);
  t.is(readyCount(h, 'physics'), 0);
  // Let the scheduler start replacements, so a VM is on its way.
  await h.tick();
  t.true(h.store.listVms({ pool: 'physics', states: ['booting', 'provisioning'] }).length > 0);
  const before = snapshot(h);
  const r = await h.say('root', 'claim physics');
  t.is(r.tone, 'error');
  t.is(r.title, 'No VM is ready in physics right now: the pool is refilling. The next VM is expected in about 9s.');
  t.is(texts(r), 'Try again then: claim physics');
  const after = snapshot(h);
  t.deepEqual(after.leases, before.leases);
  t.is(h.store.activeLeases({ user: 'root' }).length, 0);
  t.deepEqual(auditSince(h, before.audit).map((a) => [a.actor, a.target, a.result]), [['root', 'physics', 'POOL_EMPTY']]);

  // Once the replacements are ready the same claim succeeds.
  await h.run(15_000);
  t.is((await h.say('root', 'claim physics')).tone, 'success');
});

test('claim on an empty pool while the cloud is down, with nothing on its way: CLOUD_UNAVAILABLE, not queued, try again later', async (t) => {
  const h = await filledHarness(t);
  // The cloud goes away; dave takes imaging's one warm VM, and no replacement can be started.
  h.cloud.setOutage(true);
  t.is((await h.say('dave', 'claim imaging')).tone, 'success');
  await h.tick();
  t.is(h.store.listVms({ pool: 'imaging', states: ['booting', 'provisioning', 'ready'] }).length, 0);
  const r = await h.say('root', 'claim imaging');
  t.is(r.tone, 'error');
  t.is(r.title, 'No VM is ready in imaging, and the cloud is not answering at the moment, so no new one can be made ready until it is back.');
  t.is(texts(r), "Your request was not queued: try again in a few minutes with: claim imaging. Admins see the cloud's state in: admin pools");
  t.is(h.store.auditLog().at(-1)?.result, 'CLOUD_UNAVAILABLE');
});

test('the audit trail records each claim with its result', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  await h.say('alice', 'claim physics');
  await h.say('alice', 'claim physics');
  await h.say('alice', 'claim imaging');
  await h.say('root', 'claim imaging');
  const entries = auditSince(h, start);
  t.deepEqual(
    entries.map((a) => [a.actor, a.action, a.target, a.result]),
    [
      ['alice', 'claim', 'physics', 'ok'],
      ['alice', 'claim', 'physics', 'LEASE_LIMIT'],
      ['alice', 'claim', 'imaging', 'NOT_ALLOWED'],
      ['root', 'claim', 'imaging', 'ok'],
    ],
  );
  for (const e of entries) t.is(e.at, h.clock.now());
});
