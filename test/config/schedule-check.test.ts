import test from 'ava';
import { isTimeZone, scheduleProblems } from '../../src/config/schedule-check.ts';

const FROM = Date.UTC(2026, 0, 5, 0, 0); // Monday 5 January 2026

function doc(schedule: unknown[], extra: Record<string, unknown> = {}) {
  return { ...extra, pools: { excitations: { size: 5, max: 20, schedule } } };
}

test('a sound schedule has no problems', (t) => {
  t.deepEqual(
    scheduleProblems(doc([{ cron: '0 8 * * 1-5', for: '10h', size: 12, name: 'weekday mornings' }, { cron: '0 9 * * 6', for: '4h', size: 8 }]), FROM),
    [],
  );
});

test('overlapping windows in one pool are refused, both named', (t) => {
  const problems = scheduleProblems(
    doc([
      { cron: '0 8 * * 1-5', for: '10h', size: 12, name: 'weekday mornings' },
      { cron: '0 17 * * 1', for: '3h', size: 15, name: 'monday course' },
    ]),
    FROM,
  );
  t.is(problems.length, 1);
  t.regex(problems[0]!, /^pools\.excitations\.schedule: windows weekday mornings and monday course overlap \(both cover Mon 5 Jan 2026 17:00 \(UTC\)\)/);
});

test('a window that outlasts the time to its own next start is refused', (t) => {
  const problems = scheduleProblems(doc([{ cron: '0 * * * *', for: '90m', size: 12 }]), FROM);
  t.is(problems.length, 1);
  t.regex(problems[0]!, /window "0 \* \* \* \*" overlaps itself: it starts again at Mon 5 Jan 2026 00:00 \(UTC\), before its 90m are over/);
});

test('windows that only touch (one ends as the next starts) are not an overlap', (t) => {
  t.deepEqual(scheduleProblems(doc([{ cron: '0 8 * * *', for: '10h', size: 12 }, { cron: '0 18 * * *', for: '14h', size: 1 }]), FROM), []);
});

test('a size above max, a cron that never fires, a bad cron and a six-field cron are refused, each at its window', (t) => {
  const problems = scheduleProblems(
    doc([
      { cron: '0 8 * * 1-5', for: '10h', size: 30, name: 'big' },
      { cron: '0 0 30 2 *', for: '1h', size: 3, name: 'never' },
      { cron: '0 99 * * *', for: '1h', size: 3 },
      { cron: '0 0 8 * * *', for: '1h', size: 3 },
    ]),
    FROM,
  );
  t.is(problems.length, 4, problems.join('\n'));
  t.is(problems[0], 'pools.excitations.schedule[0] ("big").size: size 30 is larger than max 20');
  t.regex(problems[1]!, /^pools\.excitations\.schedule\[1\] \("never"\)\.cron: "0 0 30 2 \*" never fires/);
  t.regex(problems[2]!, /^pools\.excitations\.schedule\[2\] \("0 99 \* \* \*"\)\.cron: "0 99 \* \* \*" is not a valid cron expression/);
  t.regex(problems[3]!, /schedule\[3\].*is not a cron expression of five fields/);
});

test('scheduler.timezone must be a time zone; overlaps are found in it, DST included', (t) => {
  t.true(isTimeZone('Europe/London'));
  t.false(isTimeZone('Mars/Olympus'));
  const bad = scheduleProblems(doc([{ cron: '0 8 * * *', for: '1h', size: 3 }], { scheduler: { timezone: 'Mars/Olympus' } }), FROM);
  t.deepEqual(bad, ['scheduler.timezone: "Mars/Olympus" is not a time zone: write an IANA name such as UTC, Europe/London or America/Chicago']);
  // 00:30 for 90 minutes and 02:00: apart by 30 minutes every day but 29 March 2026 in London,
  // when 01:00–02:00 does not exist and the first runs into the second.
  const london = { scheduler: { timezone: 'Europe/London' } };
  const problems = scheduleProblems(doc([{ cron: '30 0 * * *', for: '90m', size: 3, name: 'early' }, { cron: '0 2 * * *', for: '1h', size: 4, name: 'later' }], london), FROM);
  t.is(problems.length, 1);
  t.regex(problems[0]!, /windows early and later overlap \(both cover Sun 29 Mar 2026 02:00 \(Europe\/London\)\)/);
  t.deepEqual(scheduleProblems(doc([{ cron: '30 0 * * *', for: '90m', size: 3 }, { cron: '0 2 * * *', for: '1h', size: 4 }]), FROM), []);
});

test('through the configuration: windows become the pool’s schedule, leadTime its lead; a bad zone or window stops the start with the rest', async (t) => {
  const { parseConfig } = await import('../../src/config/load-config.ts');
  const { TEST_CONFIG } = await import('../helpers/harness.ts');
  const withSchedule = (lines: string, scheduler = '') =>
    TEST_CONFIG.replace('    max: 6\n', `    max: 6\n${lines}`).replace('  poll: 2s\n', `  poll: 2s\n${scheduler}`);
  const config = parseConfig(withSchedule('    schedule:\n      - { cron: "0 8 * * 1-5", for: 10h, size: 6, name: weekday mornings }\n    leadTime: 5m\n', '  timezone: Europe/London\n'), 'x.yaml', {});
  const physics = config.pools.find((p) => p.name === 'physics')!;
  t.deepEqual(physics.schedule, [{ cron: '0 8 * * 1-5', forMs: 36_000_000, size: 6, name: 'weekday mornings' }]);
  t.is(physics.leadTimeMs, 300_000);
  t.is(config.scheduler.timeZone, 'Europe/London');
  t.is(config.pools.find((p) => p.name === 'imaging')!.schedule, undefined);
  const error = t.throws(() => parseConfig(withSchedule('    schedule:\n      - { cron: "0 8 * * *", for: 10x, size: 60, colour: red }\n', '  timezone: Nowhere/Land\n'), 'x.yaml', {}));
  t.regex(error.message, /pools\.physics\.schedule\.0\.for: "10x" is not a duration/);
  t.regex(error.message, /pools\.physics\.schedule\.0: unknown key "colour"/);
  t.regex(error.message, /scheduler\.timezone: "Nowhere\/Land" is not a time zone/);
  t.regex(error.message, /schedule\[0\] \("0 8 \* \* \*"\)\.size: size 60 is larger than max 6/);
});
