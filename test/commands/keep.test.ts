import test from 'ava';
import { filledHarness } from '../helpers/replies.ts';

const H = 3_600_000;

/** Probes as the monitor's timer would, for `ms` of simulated time. */
async function watch(h: Awaited<ReturnType<typeof filledHarness>>, ms: number) {
  const end = h.clock.now() + ms;
  while (h.clock.now() < end) {
    await h.app.activity!.runDue();
    await h.clock.advance(Math.max(1, Math.min(end, h.app.activity!.nextDueAt() ?? end) - h.clock.now()));
  }
  await h.app.outbox.idle();
}

test('keep: the idle question is answered; no other until another idle period, audited', async (t) => {
  const h = await filledHarness(t);
  await h.claim('alice', 'physics');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  await watch(h, 12.5 * H);
  t.deepEqual(h.dms.titles('alice'), [`${lease.vm.name} has been idle for 12h. Release it so a colleague can use it?`]);
  const r = await h.say('alice', `keep ${lease.vm.name}`);
  t.is(r.tone, 'success');
  t.is(r.title, `You keep ${lease.vm.name}`);
  t.regex(JSON.stringify(r.blocks), /unless it is idle for another 12h/);
  t.like(h.store.auditLog().at(-1), { actor: 'alice', action: 'keep', target: lease.vm.name, result: 'ok' });
  await watch(h, 11 * H);
  t.is(h.dms.titles('alice').length, 1, 'quiet for another idle period');
  await watch(h, 2 * H);
  t.is(h.dms.titles('alice').length, 2, 'then asked again');
});

test('keep refuses what is not yours or not there, audited', async (t) => {
  const h = await filledHarness(t);
  const none = await h.say('alice', 'keep');
  t.is(none.tone, 'error');
  t.regex(none.title, /You have no VM at the moment/);
  await h.claim('bob', 'physics');
  const bobs = h.store.activeLeases({ user: 'bob' })[0]!;
  const other = await h.say('alice', `keep ${bobs.vm.name}`);
  t.regex(other.title, /is not yours, so you cannot keep it/);
  const unknown = await h.say('alice', 'keep physics-zzzz');
  t.regex(unknown.title, /No VM called "physics-zzzz" is claimed/);
  t.deepEqual(h.store.auditLog().filter((a) => a.action === 'keep').map((a) => a.result), ['NO_LEASE', 'NOT_OWNER', 'UNKNOWN_VM']);
});
