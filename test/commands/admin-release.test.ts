import test from 'ava';
import { actionsOf, auditSince, filledHarness, readyCount, snapshot, texts } from '../helpers/replies.ts';

test('admin release without --yes asks to confirm, names the holder, and changes nothing but the audit', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const vm = lease.vm.name;
  const before = snapshot(h);
  const r = await h.say('root', `admin release ${vm} --reason image rebuild`);
  t.is(r.tone, 'warning');
  t.is(r.title, `End alice’s lease of ${vm}?`);
  t.true(texts(r).includes(`To confirm, say: admin release ${vm} --reason image rebuild --yes`));
  t.deepEqual(actionsOf(r), [{ label: `End ${vm}`, command: `admin release ${vm} --reason image rebuild --yes`, style: 'danger' }]);
  t.deepEqual(snapshot(h).leases, before.leases);
  t.deepEqual(snapshot(h).vms, before.vms);
  const audit = h.store.auditLog().at(-1)!;
  t.deepEqual([audit.actor, audit.action, audit.target, audit.result, audit.detail], ['root', 'admin release', vm, 'asked to confirm', { reason: 'image rebuild' }]);
  // The button's command works as typed.
  t.is((await h.say('root', actionsOf(r)[0]!.command)).title, `${vm} released`);
});

test('admin release --yes ends anyone’s lease; the holder is told who and why; the VM is destroyed and the pool refilled', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const vm = lease.vm.name;
  const start = h.store.auditLog().length;
  const r = await h.say('root', `admin release ${vm} --reason the image has a broken driver, sorry --yes`);
  t.is(r.tone, 'success');
  t.is(r.title, `${vm} released`);
  t.is(h.store.getLease(lease.id)?.endReason, 'admin');
  t.is(h.store.getVm(lease.vmId)?.state, 'releasing');
  const audit = auditSince(h, start);
  t.deepEqual(audit.map((a) => [a.actor, a.action, a.target, a.result]), [['root', 'admin release', vm, 'ok']]);
  t.deepEqual(audit[0]!.detail, { reason: 'the image has a broken driver, sorry', user: 'alice', vm });
  // Told through the outbox, queued with the change.
  const queued = h.store.outboxMessages({ leaseId: lease.id, status: ['pending'] });
  t.deepEqual(queued.map((m) => m.kind), ['teardown']);
  await h.tick();
  const told = h.dms.sent.filter((s) => s.to.user === 'alice');
  t.is(told.length, 1);
  t.is(told[0]!.message.title, `${vm} has been torn down`);
  t.true(texts(told[0]!.message).includes('An admin, root, ended your lease: the image has a broken driver, sorry.'));
  await h.run(15_000);
  t.is(h.store.getVm(lease.vmId)?.state, 'deleted');
  t.is(readyCount(h, 'physics'), 3, 'refilled');
  t.deepEqual(await h.cloud.listServers(h.app.reconciler.tag).then((s) => s.filter((x) => x.name === vm)), []);
});

test('admin release without a reason says none was given', async (t) => {
  const h = await filledHarness(t);
  await h.claim('dave', 'imaging');
  const vm = h.store.activeLeases({ user: 'dave' })[0]!.vm.name;
  await h.say('root', `admin release ${vm} --yes`);
  await h.tick();
  t.true(texts(h.dms.sent.find((s) => s.to.user === 'dave')!.message).includes('An admin, root, ended your lease (no reason given).'));
});

test('admin release of a VM nobody holds, or a wrong name, is refused and audited', async (t) => {
  const h = await filledHarness(t);
  const ready = h.store.listVms({ pool: 'physics', states: ['ready'] })[0]!.name;
  const start = h.store.auditLog().length;
  for (const name of [ready, 'physics-zzzz']) {
    const r = await h.say('root', `admin release ${name} --yes`);
    t.is(r.tone, 'error');
    t.is(r.title, `No VM called "${name}" is claimed at the moment.`);
  }
  t.deepEqual(auditSince(h, start).map((a) => [a.action, a.target, a.result]), [
    ['admin release', ready, 'UNKNOWN_VM'],
    ['admin release', 'physics-zzzz', 'UNKNOWN_VM'],
  ]);
  t.is(readyCount(h, 'physics'), 3, 'a ready VM is not released');
});

test('admin release is refused to non-admins, even of their own VM, and to the holder of another', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const before = snapshot(h);
  for (const who of ['alice', 'bob']) {
    const r = await h.say(who, `admin release ${vm} --reason mine --yes`);
    t.is(r.title, '"admin release" is for admins of the bot.');
  }
  t.deepEqual(snapshot(h).leases, before.leases);
  t.deepEqual(auditSince(h, before.audit).map((a) => [a.actor, a.target, a.result, a.detail]), [
    ['alice', vm, 'ADMIN_ONLY', { reason: 'mine' }],
    ['bob', vm, 'ADMIN_ONLY', { reason: 'mine' }],
  ]);
  t.deepEqual(h.dms.sent, []);
});
