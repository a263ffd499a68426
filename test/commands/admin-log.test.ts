import test from 'ava';
import { createHarness } from '../helpers/harness.ts';

test('admin log shows the end of the last provisioning run of a VM', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const [lease] = h.store.activeLeases({ user: 'alice' });
  const shown = await h.sayText('root', `admin log ${lease!.vm.name}`);
  t.regex(shown, new RegExp(`Last provisioning run of ${lease!.vm.name}`));
  t.regex(shown, /provision: ok/);
  t.regex(shown, /claim for alice: ok, home directory created/);
  t.regex(shown, /State:\s+claimed/);
});

test('admin log: an unknown VM gets a suggestion, a missing one says how to call it, non-admins are refused and audited', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const [vm] = h.store.listVms({ states: ['ready'] });
  // A typo that holds whatever the random name is: one extra "0", a character VM names never
  // contain, so it names no VM, is one edit from this VM and at least two from every other.
  const typo = `${vm!.name}0`;
  t.notRegex(vm!.name, /0/);
  t.regex(await h.sayText('root', `admin log ${typo}`), new RegExp(`There is no VM called "${typo}"[^]*Did you mean ${vm!.name}\\?`));
  t.regex(await h.sayText('root', 'admin log'), /admin log <vm>/);
  t.regex(await h.sayText('alice', `admin log ${vm!.name}`), /"admin log" is for admins of the bot/);
  t.true(h.store.auditLog({}).some((a) => a.actor === 'alice' && a.action === 'admin log' && a.result === 'ADMIN_ONLY'));
});

test('admin log is audited with the VM named as its target, found or not', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const [vm] = h.store.listVms({ states: ['ready'] });
  await h.sayText('root', `admin log ${vm!.name}`);
  await h.sayText('root', `admin log ${vm!.name}0`);
  await h.sayText('root', 'admin log');
  const records = h.store.auditLog({}).filter((a) => a.action === 'admin log');
  t.deepEqual(
    records.map((a) => [a.target, a.result]),
    [
      [vm!.name, 'ok'],
      [`${vm!.name}0`, 'UNKNOWN_VM'],
      ['-', 'BAD_INPUT'],
    ],
  );
});
