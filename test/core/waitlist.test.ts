import test from 'ava';
import type { PoolSpec } from '../../src/core/model.ts';
import { estimateWaitMs, extensionWhileQueued, queueSettings, typicalReadyMs } from '../../src/core/waitlist.ts';

const NOW = Date.UTC(2026, 0, 5, 9);

test('queue settings default to a 10-minute hold, no auto-assign, one extension while others wait; no queue unless configured', (t) => {
  const pool = { name: 'p' } as PoolSpec;
  t.deepEqual(queueSettings(pool), { queue: false, holdForMs: 600_000, autoAssign: false, extendWhileQueued: 'once' });
  t.deepEqual(queueSettings({ ...pool, queue: true, holdForMs: 60_000, autoAssign: true, extendWhileQueued: 'refuse' }), { queue: true, holdForMs: 60_000, autoAssign: true, extendWhileQueued: 'refuse' });
});

test('the typical boot-to-ready time is the median of those seen, or the default before any', (t) => {
  t.is(typicalReadyMs([], 42), 42);
  t.is(typicalReadyMs([9_000, 1_000, 5_000], 42), 5_000);
});

test('a place served by a VM already on its way waits until that VM is likely ready', (t) => {
  const base = { now: NOW, readyTimesMs: [8_000], defaultReadyMs: 60_000, bootsAtOnce: 20 };
  t.is(estimateWaitMs({ ...base, place: 1, inFlightCreatedAt: [NOW - 3_000, NOW - 1_000] }), 5_000);
  t.is(estimateWaitMs({ ...base, place: 2, inFlightCreatedAt: [NOW - 1_000, NOW - 3_000] }), 7_000, 'in creation order, whatever the input order');
  t.is(estimateWaitMs({ ...base, place: 1, inFlightCreatedAt: [NOW - 20_000] }), 0, 'overdue: any moment');
});

test('places beyond the VMs on their way wait for further waves of boots', (t) => {
  const base = { now: NOW, readyTimesMs: [8_000], defaultReadyMs: 60_000 };
  t.is(estimateWaitMs({ ...base, place: 1, inFlightCreatedAt: [], bootsAtOnce: 20 }), 8_000);
  t.is(estimateWaitMs({ ...base, place: 21, inFlightCreatedAt: [], bootsAtOnce: 20 }), 16_000);
  t.is(estimateWaitMs({ ...base, place: 3, inFlightCreatedAt: [NOW], bootsAtOnce: 1 }), 8_000 + 2 * 8_000);
  t.is(estimateWaitMs({ ...base, place: 3, inFlightCreatedAt: [], bootsAtOnce: 0 }), 24_000, 'no boot slot free: one at a time');
});

test('extensions while others wait: allow as usual, once more, or none; the refusal says how many wait', (t) => {
  t.deepEqual(extensionWhileQueued('refuse', 0, 0), { ok: true }, 'nobody waits');
  t.deepEqual(extensionWhileQueued('allow', 5, 3), { ok: true });
  t.deepEqual(extensionWhileQueued('once', 3, 0), { ok: true });
  const once = extensionWhileQueued('once', 3, 1);
  t.false(once.ok);
  t.regex(!once.ok ? once.reason : '', /3 people are waiting .* extended once already/);
  const refuse = extensionWhileQueued('refuse', 1, 0);
  t.regex(!refuse.ok ? refuse.reason : '', /1 person is waiting .* no extensions while anyone waits/);
});
