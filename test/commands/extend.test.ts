import test from 'ava';
import { actionsOf, auditSince, filledHarness, heldVm, onlyFields, snapshot, texts } from '../helpers/replies.ts';

const HOUR = 3_600_000;

test('extend moves the expiry by exactly the pool step and counts down the extensions left', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const vm = heldVm(t, h, 'alice');
  const original = h.store.activeLeases({ user: 'alice' })[0]!.expiresAt;
  await h.clock.advance(HOUR);

  const first = await h.say('alice', 'extend');
  t.is(first.tone, 'success', JSON.stringify(first));
  t.is(first.title, `${vm} extended by 1d`);
  let lease = h.store.activeLeases({ user: 'alice' })[0]!;
  t.is(lease.expiresAt, original + 24 * HOUR);
  t.is(lease.extensionsUsed, 1);
  const f1 = onlyFields(t, first);
  t.deepEqual(f1.get('Expires'), { time: original + 24 * HOUR });
  t.deepEqual(f1.get('Time left'), { duration: original + 24 * HOUR - h.clock.now() });
  t.is(f1.get('Extensions left'), '1 of 2 (each +1d)');
  t.deepEqual(actionsOf(first).map((a) => a.label), ['Extend +1d', 'Release']);

  const second = await h.say('alice', `extend ${vm}`);
  t.is(second.tone, 'success');
  lease = h.store.activeLeases({ user: 'alice' })[0]!;
  t.is(lease.expiresAt, original + 48 * HOUR);
  t.is(lease.extensionsUsed, 2);
  t.is(onlyFields(t, second).get('Extensions left'), '0 of 2 (each +1d)');
  t.deepEqual(actionsOf(second).map((a) => a.command), [`release ${vm}`], 'no Extend button once none are left');
});

test('the third extend is refused with EXTENSION_LIMIT and the expiry stays where it was', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const vm = heldVm(t, h, 'alice');
  await h.say('alice', 'extend');
  await h.say('alice', 'extend');
  const before = snapshot(h);
  const expires = h.store.activeLeases({ user: 'alice' })[0]!.expiresAt;
  const r = await h.say('alice', 'extend');
  t.is(r.tone, 'error');
  t.is(r.title, `${vm} has been extended twice, the most pool physics allows. It will be torn down in 4d.`);
  t.is(texts(r), 'Save your work to your home directory: it is kept when the VM goes.');
  t.is(h.store.activeLeases({ user: 'alice' })[0]!.expiresAt, expires);
  const after = snapshot(h);
  t.deepEqual(after.leases, before.leases);
  t.deepEqual(auditSince(h, before.audit).map((a) => [a.actor, a.action, a.target, a.result]), [['alice', 'extend', vm, 'EXTENSION_LIMIT']]);
});

test('imaging extends by 12h, once', async (t) => {
  const h = await filledHarness(t);
  await h.say('dave', 'claim imaging');
  const original = h.store.activeLeases({ user: 'dave' })[0]!.expiresAt;
  const r = await h.say('dave', 'extend');
  t.regex(r.title, / extended by 12h$/);
  t.is(h.store.activeLeases({ user: 'dave' })[0]!.expiresAt, original + 12 * HOUR);
  t.is(onlyFields(t, r).get('Extensions left'), '0 of 1 (each +12h)');
  const again = await h.say('dave', 'extend');
  t.regex(again.title, /has been extended once, the most pool imaging allows/);
  t.false(again.title.includes('(s)'));
  t.is(h.store.activeLeases({ user: 'dave' })[0]!.expiresAt, original + 12 * HOUR);
});

test('extend of someone else\'s VM by name gives NOT_OWNER and changes nothing', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.say('bob', 'claim physics');
  const alices = heldVm(t, h, 'alice');
  const before = snapshot(h);
  const r = await h.say('bob', `extend ${alices}`);
  t.is(r.tone, 'error');
  t.is(r.title, `${alices} is not yours, so you cannot extend it.`);
  // Admins may not extend other people's VMs either.
  t.is((await h.say('root', `extend ${alices}`)).title, `${alices} is not yours, so you cannot extend it.`);
  const after = snapshot(h);
  t.deepEqual(after.leases, before.leases);
  t.deepEqual(after.vms, before.vms);
});

test('extend picks the only VM, needs a name when there are two, and says when there is none', async (t) => {
  const h = await filledHarness(t);
  const none = await h.say('alice', 'extend');
  t.is(none.title, 'You have no VM at the moment.');
  await h.say('root', 'claim physics');
  await h.say('root', 'claim imaging');
  const before = snapshot(h);
  const r = await h.say('root', 'extend');
  t.is(r.tone, 'error');
  const names = h.store.activeLeases({ user: 'root' }).map((l) => l.vm.name);
  t.is(r.title, `You have 2 VMs: ${names.join(', ')}. Which one?`);
  t.is(texts(r), `Say: extend ${names[0]}`);
  t.deepEqual(snapshot(h).leases, before.leases);
  const physics = h.store.activeLeases({ user: 'root', pool: 'physics' })[0]!;
  t.is((await h.say('root', `extend ${physics.vm.name.toUpperCase()}`)).tone, 'success', 'VM names are case-insensitive');
  t.is(h.store.activeLeases({ user: 'root', pool: 'physics' })[0]!.expiresAt, physics.expiresAt + 24 * HOUR);
});

test('extend of an unknown VM gives UNKNOWN_VM', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const ready = h.store.listVms({ pool: 'physics', states: ['ready'] })[0]!.name;
  for (const name of ['physics-zzzz', ready]) {
    const r = await h.say('alice', `extend ${name}`);
    t.is(r.tone, 'error');
    t.is(r.title, `No VM called "${name}" is claimed at the moment.`);
    t.is(texts(r), 'Your VMs are listed by: status');
  }
});

test('the audit trail records extensions with their result', async (t) => {
  const h = await filledHarness(t);
  await h.say('dave', 'claim imaging');
  const vm = heldVm(t, h, 'dave');
  const start = h.store.auditLog().length;
  await h.say('dave', 'extend');
  await h.say('dave', 'extend');
  t.deepEqual(
    auditSince(h, start).map((a) => [a.actor, a.action, a.target, a.result]),
    [
      ['dave', 'extend', vm, 'ok'],
      ['dave', 'extend', vm, 'EXTENSION_LIMIT'],
    ],
  );
});

