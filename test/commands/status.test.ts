import test from 'ava';
import { actionsOf, fieldBlocks, filledHarness, snapshot, texts } from '../helpers/replies.ts';

const HOUR = 3_600_000;

test('status with no VM says so and how to claim one', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'status');
  t.deepEqual(r, { tone: 'info', title: 'You have no VM at the moment.', blocks: [{ type: 'text', text: 'Claim one with: claim <pool>  (see: pools)' }] });
});

test('status with one VM shows its card', async (t) => {
  const h = await filledHarness(t);
  const claimedAt = h.clock.now();
  await h.say('alice', 'claim physics');
  await h.clock.advance(5 * HOUR);
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const r = await h.say('alice', 'status');
  t.is(r.tone, 'info');
  t.is(r.title, 'Your VM');
  const blocks = fieldBlocks(r);
  t.is(blocks.length, 1);
  const f = blocks[0]!;
  t.is(f.get('VM'), lease.vm.name);
  t.is(f.get('Pool'), 'physics');
  t.is(f.get('Address'), lease.vm.address!);
  t.deepEqual(f.get('Expires'), { time: claimedAt + 48 * HOUR });
  t.deepEqual(f.get('Time left'), { duration: 43 * HOUR });
  t.is(f.get('Extensions left'), '2 of 2 (each +1d)');
  t.is(texts(r), `Connect: ssh alice@${lease.vm.address}`);
  t.deepEqual(
    actionsOf(r).map((a) => a.command),
    [`extend ${lease.vm.name}`, `release ${lease.vm.name}`],
  );
  const shown = await h.sayText('alice', 'status');
  t.true(shown.includes('  Time left:       1d 19h'), shown);
  t.true(shown.includes('(in 1d 19h)'), shown);
});

test('status shows only one\'s own VMs', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.say('bob', 'claim physics');
  const bobs = h.store.activeLeases({ user: 'bob' })[0]!.vm.name;
  const r = await h.say('alice', 'status');
  t.is(r.title, 'Your VM');
  t.false(JSON.stringify(r).includes(bobs));
  t.is((await h.say('carol', 'status')).title, 'You have no VM at the moment.');
});

test('status with two VMs lists both, soonest expiry first', async (t) => {
  const h = await filledHarness(t);
  // Claimed in this order, but imaging's 24h lease ends before physics' 48h one.
  await h.say('root', 'claim physics');
  await h.say('root', 'claim imaging');
  const r = await h.say('root', 'status');
  t.is(r.tone, 'info');
  t.is(r.title, 'Your 2 VMs');
  const blocks = fieldBlocks(r);
  t.deepEqual(blocks.map((f) => f.get('Pool')), ['imaging', 'physics']);
  t.deepEqual(blocks.map((f) => f.get('Extensions left')), ['1 of 1 (each +12h)', '2 of 2 (each +1d)']);
  const names = h.store.activeLeases({ user: 'root' }).map((l) => l.vm.name);
  t.deepEqual(blocks.map((f) => f.get('VM')), names);
  t.deepEqual(
    actionsOf(r).map((a) => a.command),
    names.flatMap((n) => [`extend ${n}`, `release ${n}`]),
  );
  t.is(texts(r).split('\n').filter((l) => l.startsWith('Connect: ssh root@')).length, 2);
});

test('status changes nothing', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  const before = snapshot(h);
  await h.say('alice', 'status');
  await h.say('bob', 'status');
  t.deepEqual(snapshot(h), before);
});
