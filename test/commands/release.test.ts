import test from 'ava';
import { actionsOf, auditSince, filledHarness, heldVm, onlyFields, readyCount, snapshot, texts } from '../helpers/replies.ts';

test('release without --yes asks to confirm with a danger action, and changes nothing', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.run(15_000);
  const vm = heldVm(t, h, 'alice');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const before = snapshot(h);
  for (const input of ['release', `release ${vm}`]) {
    const r = await h.say('alice', input);
    t.is(r.tone, 'warning', input);
    t.is(r.title, `Release ${vm}?`);
    t.true(texts(r).includes('The VM will be destroyed; anything outside your home directory is lost.'));
    t.true(texts(r).includes(`To confirm, say: release ${vm} --yes`));
    t.deepEqual(onlyFields(t, r).get('Expires'), { time: lease.expiresAt });
    t.deepEqual(actionsOf(r), [{ label: `Release ${vm}`, command: `release ${vm} --yes`, style: 'danger' }]);
  }
  t.deepEqual(snapshot(h), before, 'no lease ended, no VM changed, nothing audited');
  t.is(h.store.getVm(lease.vmId)?.state, 'claimed');
});

test('release --yes ends the lease; the VM is destroyed and the pool refilled', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.run(15_000);
  t.is(readyCount(h, 'physics'), 3, 'refilled after the claim');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const vm = lease.vm.name;
  const start = h.store.auditLog().length;

  const r = await h.say('alice', `release ${vm} --yes`);
  t.is(r.tone, 'success', JSON.stringify(r));
  t.is(r.title, `${vm} released`);
  t.is(texts(r), 'It is being destroyed and pool physics refilled. Your home directory is kept.');
  t.deepEqual(h.store.activeLeases({ user: 'alice' }), []);
  t.is(h.store.getLease(lease.id)?.endReason, 'released');
  t.is(h.store.getLease(lease.id)?.endedAt, h.clock.now());
  t.is(h.store.getVm(lease.vmId)?.state, 'releasing');
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.action, a.target, a.result]), [['alice', 'release', vm, 'ok']]);

  await h.run(15_000);
  t.is(h.store.getVm(lease.vmId)?.state, 'deleted');
  t.false(h.store.listVms().some((v) => v.id === lease.vmId));
  t.is(readyCount(h, 'physics'), 3, 'the pool is back to its size');
  // The released VM is gone for good: it can be neither released again nor claimed by name.
  const again = await h.say('alice', `release ${vm} --yes`);
  t.is(again.title, `No VM called "${vm}" is claimed at the moment.`);
  t.is((await h.say('alice', 'status')).title, 'You have no VM at the moment.');
});

test('release --yes without a name releases one\'s only VM', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const vm = heldVm(t, h, 'alice');
  const r = await h.say('alice', 'release --yes');
  t.is(r.title, `${vm} released`);
  t.deepEqual(h.store.activeLeases({ user: 'alice' }), []);
});

test('the confirm action, run as given, releases the VM', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const vm = heldVm(t, h, 'alice');
  const ask = await h.say('alice', 'release');
  const command = actionsOf(ask)[0]!.command;
  const r = await h.say('alice', command);
  t.is(r.title, `${vm} released`);
});

test('release of someone else\'s VM by name gives NOT_OWNER and changes nothing', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.say('bob', 'claim physics');
  const alices = heldVm(t, h, 'alice');
  const before = snapshot(h);
  for (const [who, input] of [
    ['bob', `release ${alices} --yes`],
    ['bob', `release ${alices}`],
    ['root', `release ${alices} --yes`],
    ['dave', `release ${alices.toUpperCase()} --yes`],
  ] as const) {
    const r = await h.say(who, input);
    t.is(r.tone, 'error', `${who}: ${input}`);
    t.is(r.title, `${alices} is not yours, so you cannot release it.`);
  }
  const after = snapshot(h);
  t.deepEqual(after.vms, before.vms);
  t.deepEqual(after.leases, before.leases);
  t.is(heldVm(t, h, 'alice'), alices);
  t.deepEqual(
    auditSince(h, before.audit).map((e) => [e.actor, e.action, e.result]),
    [['bob', 'release', 'NOT_OWNER'], ['bob', 'release', 'NOT_OWNER'], ['root', 'release', 'NOT_OWNER'], ['dave', 'release', 'NOT_OWNER']],
    'attempts on someone else\'s VM are in the audit trail',
  );
});

test('release with two VMs and no name gives AMBIGUOUS_VM and changes nothing', async (t) => {
  const h = await filledHarness(t);
  await h.say('root', 'claim physics');
  await h.say('root', 'claim imaging');
  const names = h.store.activeLeases({ user: 'root' }).map((l) => l.vm.name);
  const before = snapshot(h);
  for (const input of ['release', 'release --yes']) {
    const r = await h.say('root', input);
    t.is(r.tone, 'error');
    t.is(r.title, `You have 2 VMs: ${names.join(', ')}. Which one?`);
    t.is(texts(r), `Say: release ${names[0]}`);
  }
  const after = snapshot(h);
  t.deepEqual({ ...after, audit: before.audit }, before, 'no VM or lease changed');
  t.deepEqual(auditSince(h, before.audit).map((e) => e.result), ['AMBIGUOUS_VM', 'AMBIGUOUS_VM'], 'each refusal is audited');
  // Naming one releases only that one.
  t.is((await h.say('root', `release ${names[1]} --yes`)).title, `${names[1]} released`);
  t.deepEqual(h.store.activeLeases({ user: 'root' }).map((l) => l.vm.name), [names[0]]);
});

test('release with no VM gives NO_LEASE', async (t) => {
  const h = await filledHarness(t);
  const before = snapshot(h);
  for (const input of ['release', 'release --yes']) {
    const r = await h.say('alice', input);
    t.is(r.tone, 'error');
    t.is(r.title, 'You have no VM at the moment.');
    t.is(texts(r), 'Claim one with: claim <pool>  (see: pools)');
  }
  const after = snapshot(h);
  t.deepEqual({ ...after, audit: before.audit }, before, 'no VM or lease changed');
  t.deepEqual(auditSince(h, before.audit).map((e) => e.result), ['NO_LEASE', 'NO_LEASE'], 'each refusal is audited');
});

test('release of an unknown or unclaimed VM name gives UNKNOWN_VM and changes nothing', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const ready = h.store.listVms({ pool: 'physics', states: ['ready'] })[0]!.name;
  const before = snapshot(h);
  for (const name of ['physics-zzzz', ready, 'physics']) {
    const r = await h.say('alice', `release ${name} --yes`);
    t.is(r.tone, 'error');
    t.is(r.title, `No VM called "${name}" is claimed at the moment.`);
    t.is(texts(r), 'Your VMs are listed by: status');
  }
  const after = snapshot(h);
  t.deepEqual({ ...after, audit: before.audit }, before, 'no VM or lease changed');
  t.deepEqual(auditSince(h, before.audit).map((e) => e.result), ['UNKNOWN_VM', 'UNKNOWN_VM', 'UNKNOWN_VM'], 'each refusal is audited');
  t.is(h.store.listVms({ pool: 'physics', states: ['ready'] })[0]!.name, ready, 'the ready VM is untouched');
});

test('the audit trail records releases', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.say('dave', 'claim imaging');
  const alices = heldVm(t, h, 'alice');
  const daves = heldVm(t, h, 'dave');
  const start = h.store.auditLog().length;
  await h.say('alice', 'release --yes');
  await h.say('dave', `release ${daves} --yes`);
  t.deepEqual(
    auditSince(h, start).map((a) => [a.actor, a.action, a.target, a.result]),
    [
      ['alice', 'release', alices, 'ok'],
      ['dave', 'release', daves, 'ok'],
    ],
  );
});
