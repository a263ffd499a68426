import test from 'ava';
import { noControl, type PoolSpec, type SizeWindow } from '../../src/core/model.ts';
import { leadTimeMs, nextSizeChangeAt, percentileOf, poolSizeAt, type SizeContext } from '../../src/core/pool-size.ts';
import { describePoolSize } from '../../src/core/pool-size-text.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const mornings: SizeWindow = { cron: '0 8 * * 1-5', forMs: 10 * HOUR, size: 12, name: 'weekday mornings' };

function pool(schedule: SizeWindow[], extra: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name: 'excitations',
    description: '',
    image: 'img',
    flavor: 'f',
    gpu: false,
    networks: [],
    size: 5,
    max: 50,
    leaseMs: 48 * HOUR,
    remindBeforeMs: [],
    extensionStepMs: HOUR,
    maxExtensions: 1,
    maxLeasesPerUser: 1,
    groups: ['g'],
    connect: 'ssh',
    owner: { name: 'o', contact: 'o@x' },
    schedule,
    ...extra,
  };
}

const utc = (leadMs = 0): SizeContext => ({ timeZone: 'UTC', leadMs: () => leadMs });
// Monday 5 January 2026.
const MON = (h: number, m = 0, s = 0, ms = 0) => Date.UTC(2026, 0, 5, h, m, s, ms);

test('window edges: the size is the window’s from its first millisecond to its last, the configured one outside', (t) => {
  const p = pool([mornings]);
  t.like(poolSizeAt(p, undefined, MON(7, 59, 59, 999), utc()), { size: 5, source: 'configured' });
  t.like(poolSizeAt(p, undefined, MON(8), utc()), { size: 12, source: 'window', window: 'weekday mornings', until: MON(18) });
  t.like(poolSizeAt(p, undefined, MON(17, 59, 59, 999), utc()), { size: 12, source: 'window' });
  t.like(poolSizeAt(p, undefined, MON(18), utc()), { size: 5, source: 'configured' });
  // Saturday 10 January: the cron does not fire at weekends.
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 0, 10, 9), utc()), { size: 5, source: 'configured' });
});

test('lead time: a larger window is filled ahead of its start, not before its lead; a smaller one is not', (t) => {
  const p = pool([mornings, { cron: '0 20 * * *', forMs: 10 * HOUR, size: 1, name: 'nights' }]);
  t.like(poolSizeAt(p, undefined, MON(7, 49, 59), utc(10 * MIN)), { size: 5, source: 'configured' });
  t.like(poolSizeAt(p, undefined, MON(7, 50), utc(10 * MIN)), { size: 12, source: 'ahead', startsAt: MON(8), window: 'weekday mornings' });
  // Ten minutes before the night window the day's 12 stay: shrinking is never done ahead.
  t.like(poolSizeAt(p, undefined, MON(17, 55), utc(10 * MIN)), { size: 12, source: 'window' });
  t.like(poolSizeAt(p, undefined, MON(19, 55), utc(10 * MIN)), { size: 5, source: 'configured' });
  t.like(poolSizeAt(p, undefined, MON(20), utc(10 * MIN)), { size: 1, source: 'window', window: 'nights' });
  // Inside the night window, the morning's lead raises it again at 07:50 (the night ends at 06:00).
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 0, 6, 5, 55), utc(10 * MIN)), { size: 1, source: 'window' });
});

test('an admin’s size wins while set, inside a window too; a drained pool keeps none', (t) => {
  const p = pool([mornings]);
  const resized = { ...noControl('excitations'), size: 7, sizeBy: { by: 'alice', at: 0 } };
  t.like(poolSizeAt(p, resized, MON(9), utc()), { size: 7, source: 'admin', by: 'alice' });
  t.like(poolSizeAt(p, { ...resized, drained: { reason: 'x', by: 'bob', at: 0 } }, MON(9), utc()), { size: 0, source: 'drained', by: 'bob' });
  t.like(poolSizeAt(p, noControl('excitations'), MON(9), utc()), { size: 12, source: 'window' });
});

test('time zones: the cron is read in scheduler.timezone', (t) => {
  const p = pool([mornings]);
  // Monday 1 June 2026: 08:00 in London (BST) is 07:00 UTC; in Chicago (CDT) 13:00 UTC.
  const london: SizeContext = { timeZone: 'Europe/London', leadMs: () => 0 };
  const chicago: SizeContext = { timeZone: 'America/Chicago', leadMs: () => 0 };
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 5, 1, 6, 59), london), { size: 5 });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 5, 1, 7, 0), london), { size: 12, until: Date.UTC(2026, 5, 1, 17, 0) });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 5, 1, 12, 59), chicago), { size: 5 });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 5, 1, 13, 0), chicago), { size: 12 });
  // In January London is on UTC.
  t.like(poolSizeAt(p, undefined, MON(8), london), { size: 12 });
});

test('DST: Europe/London on 29 March and 25 October 2026, the window starts at 08:00 local each day', (t) => {
  const daily: SizeWindow = { cron: '0 8 * * *', forMs: 10 * HOUR, size: 12, name: 'days' };
  const p = pool([daily]);
  const london: SizeContext = { timeZone: 'Europe/London', leadMs: () => 0 };
  // Saturday 28 March (GMT): 08:00 UTC. Sunday 29 March, clocks went forward at 01:00: 07:00 UTC.
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 2, 28, 8, 0), london), { size: 12 });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 2, 29, 6, 59), london), { size: 5 });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 2, 29, 7, 0), london), { size: 12, until: Date.UTC(2026, 2, 29, 17, 0) });
  // Sunday 25 October, clocks went back at 02:00: 08:00 local is 08:00 UTC again.
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 9, 25, 7, 30), london), { size: 5 });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 9, 25, 8, 0), london), { size: 12 });
});

test('DST: a window at an hour that is skipped or repeated starts once that day', (t) => {
  const small: SizeWindow = { cron: '30 1 * * *', forMs: HOUR, size: 9, name: 'small hours' };
  const p = pool([small]);
  const london: SizeContext = { timeZone: 'Europe/London', leadMs: () => 0 };
  // 29 March: 01:30 does not exist; the window starts at 02:00 BST (01:00 UTC), once.
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 2, 29, 1, 0), london), { size: 9, until: Date.UTC(2026, 2, 29, 2, 0) });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 2, 29, 2, 0), london), { size: 5 });
  // 25 October: 01:30 happens twice (BST, then GMT); the window starts at the first and lasts its hour.
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 9, 25, 0, 30), london), { size: 9, until: Date.UTC(2026, 9, 25, 1, 30) });
  t.like(poolSizeAt(p, undefined, Date.UTC(2026, 9, 25, 1, 45), london), { size: 5 });
});

test('the next size change: the window’s end inside it, the start of its filling before it', (t) => {
  const p = pool([mornings]);
  t.is(nextSizeChangeAt(p, MON(9), utc(10 * MIN)), MON(18));
  t.is(nextSizeChangeAt(p, MON(7), utc(10 * MIN)), MON(7, 50));
  t.is(nextSizeChangeAt(p, MON(7, 55), utc(10 * MIN)), MON(8));
  t.is(nextSizeChangeAt(pool([]), MON(7), utc()), null);
});

test('lead time: the 95th percentile of boot-to-ready times, once per wave of boots, a quarter to spare, or leadTime if longer', (t) => {
  const times = Array.from({ length: 20 }, (_, i) => 8_000 + i * 100); // 8.0 … 9.9 s
  t.is(percentileOf(times, 95), 9_800);
  t.is(percentileOf([], 95), undefined);
  const p = pool([mornings]); // 5 → 12: 7 more VMs
  // A quarter to spare on top.
  t.is(leadTimeMs(p, mornings, times, { estimateMs: 7_000, maxConcurrentBoots: 10 }), 12_250);
  t.is(leadTimeMs(p, mornings, times, { estimateMs: 7_000, maxConcurrentBoots: 3 }), 3 * 12_250);
  t.is(leadTimeMs(p, mornings, [], { estimateMs: 7_000, maxConcurrentBoots: 10 }), 8_750);
  t.is(leadTimeMs(pool([mornings], { leadTimeMs: 15 * MIN }), mornings, times, { estimateMs: 7_000, maxConcurrentBoots: 10 }), 15 * MIN);
});

test('the size in words, as pools and admin pools show it', (t) => {
  const p = pool([mornings]);
  t.is(describePoolSize(poolSizeAt(p, undefined, MON(9), utc()), MON(9), 'UTC'), '12 until 18:00: weekday mornings');
  t.is(describePoolSize(poolSizeAt(p, undefined, MON(7, 55), utc(10 * MIN)), MON(7, 55), 'UTC'), '12 from 08:00: weekday mornings (filling ahead)');
  t.is(describePoolSize(poolSizeAt(p, { ...noControl('x'), size: 7, sizeBy: { by: 'alice', at: 0 } }, MON(9), utc()), MON(9), 'UTC'), '7: set by admin alice');
  t.is(describePoolSize(poolSizeAt(p, undefined, MON(19), utc()), MON(19), 'UTC'), '5: configured');
  // Shown in the schedule's zone: 18:00 in London in June is 17:00 UTC.
  const june = Date.UTC(2026, 5, 1, 9);
  t.is(describePoolSize(poolSizeAt(p, undefined, june, { timeZone: 'Europe/London', leadMs: () => 0 }), june, 'Europe/London'), '12 until 18:00: weekday mornings');
  // A window longer than a day ends on a named day.
  const long = pool([{ cron: '0 8 * * 1', forMs: 50 * HOUR, size: 12, name: 'course' }]);
  t.is(describePoolSize(poolSizeAt(long, undefined, MON(9), utc()), MON(9), 'UTC'), '12 until Wed 10:00: course');
});
