/** The app's wiring: what chat adapters are told about lease changes, whoever makes them. */
import test from 'ava';
import { createHarness } from './helpers/harness.ts';

test('lease-change listeners are told once per change, by a command or by the scheduler (home ready, expiry), and not for a reminder', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  const told: string[] = [];
  h.app.onLeaseChange((account) => told.push(account));
  await h.run(20_000);

  // The claim (a command) is one change; her home made ready (the scheduler) another.
  const answer = await h.say('alice', 'claim physics');
  t.is(answer.tone, 'success', answer.title);
  t.deepEqual(told, ['alice']);
  await h.tick();
  await h.app.reconciler.idle();
  await h.tick();
  t.true(h.dms.titles('alice').some((title) => /is ready for you/.test(title)));
  t.deepEqual(told, ['alice', 'alice']);

  // The 24 h reminder: a message, not a change.
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  await h.clock.advance(lease.expiresAt - 24 * 3_600_000 + 1_000 - h.clock.now());
  await h.tick();
  t.true(h.dms.titles('alice').some((title) => /will be torn down in/.test(title)));
  t.deepEqual(told, ['alice', 'alice']);

  // Expiry: the lease ends and she is told; one change.
  await h.clock.advance(24 * 3_600_000);
  await h.tick();
  t.true(h.dms.titles('alice').some((title) => /has been torn down/.test(title)));
  t.deepEqual(told, ['alice', 'alice', 'alice']);
  await h.tick();
  t.deepEqual(told, ['alice', 'alice', 'alice'], 'nothing more');
});
