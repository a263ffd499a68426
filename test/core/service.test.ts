import test from 'ava';
import { createHarness, TEST_CONFIG } from '../helpers/harness.ts';

const big = TEST_CONFIG.replace('size: 3\n    max: 6', 'size: 20\n    max: 40');

test('200 concurrent claims on a pool of 20 ready VMs: exactly 20 succeed, no VM twice, the rest told it is refilling', async (t) => {
  const config = big.replace('physics: [alice, bob, carol]', "physics: ['*']");
  const h = createHarness({ config });
  t.teardown(() => h.close());
  await h.run(12_000);
  t.is(h.store.listVms({ pool: 'physics', states: ['ready'] }).length, 20);

  const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => h.say(`user${i}`, 'claim physics')));
  const won = replies.filter((r) => r.tone === 'success');
  t.is(won.length, 20);
  const names = won.map((r) => r.title.split(' ')[0]);
  t.is(new Set(names).size, 20, 'no VM handed out twice');
  for (const lost of replies.filter((r) => r.tone !== 'success')) t.regex(lost.title, /No VM is ready in physics right now: the pool is refilling/);
  const leases = h.store.activeLeases({ pool: 'physics' });
  t.is(leases.length, 20);
  t.is(new Set(leases.map((l) => l.vmId)).size, 20);
  t.is(new Set(leases.map((l) => l.user)).size, 20);
  t.is(h.store.auditLog({ limit: 1000 }).filter((e) => e.action === 'claim' && e.result === 'POOL_EMPTY').length, 180);
});

test('the empty-pool answer says when the next VM is expected, from the observed boot and provision time', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  for (const user of ['alice', 'bob', 'carol']) t.is((await h.say(user, 'claim physics')).tone, 'success');
  await h.tick(); // refills start booting
  const empty = await h.say('root', 'claim physics');
  t.is(empty.tone, 'error');
  // The pool was seen to take about 10 s from creation to ready (5 s boot, 4 s provisioning, ticks).
  t.regex(empty.title, /The next VM is expected in about (9|10|11)s\./);
  t.regex(JSON.stringify(empty.blocks), /claim physics/);
});

test('one live lease per user per pool by default, configurable', async (t) => {
  const h = createHarness({ config: TEST_CONFIG.replace('maxExtensions: 2\n', 'maxExtensions: 2\n  maxLeasesPerUser: 2\n') });
  t.teardown(() => h.close());
  await h.run(12_000);
  t.is((await h.say('alice', 'claim physics')).tone, 'success');
  t.is((await h.say('alice', 'claim physics')).tone, 'success');
  const third = await h.say('alice', 'claim physics');
  t.regex(third.title, /allows 2 per person/);
  t.is(h.store.activeLeases({ user: 'alice' }).length, 2);
});

test('a claim is recorded with its origin, so reminders go back where the user is', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.app.dispatch({ platform: 'test', account: 'bob', conversation: 'room-42', text: 'claim physics' });
  const [lease] = h.store.activeLeases({ user: 'bob' });
  t.is(lease?.platform, 'test');
  t.is(lease?.conversation, 'room-42');
});
