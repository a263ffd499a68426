import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { createHarness, TEST_CONFIG, type Harness } from '../helpers/harness.ts';
import { tableRows, texts } from '../helpers/replies.ts';

const MIN = 60_000;
// Monday 5 January 2026.
const at = (h: number, m = 0) => Date.UTC(2026, 0, 5, h, m);

/** The test configuration with a morning window on physics (3 warm, 6 from 08:00 to 10:00). */
function scheduled(extra = '    leadTime: 5m\n'): string {
  const config = TEST_CONFIG.replace(
    '    max: 6\n',
    `    max: 6\n    schedule:\n      - { cron: "0 8 * * 1-5", for: 2h, size: 6, name: morning }\n${extra}`,
  );
  if (config === TEST_CONFIG) throw new Error('the test configuration changed: the physics pool was not found');
  return config;
}

const warm = (h: Harness) => h.store.listVms({ pool: 'physics', states: ['booting', 'provisioning', 'ready'] }).length;
const ready = (h: Harness) => h.store.listVms({ pool: 'physics', states: ['ready'] }).length;

/** Ticks every `stepMs` until `until`: every second as the loop does while VMs move, or slower where nothing does. */
async function runTo(h: Harness, until: number, stepMs = 1_000): Promise<void> {
  await h.run(until - h.clock.now(), stepMs);
}

test('a window is filled ahead by its lead time, kept to its end, and the pool shrinks back after it', async (t) => {
  const h = createHarness({ config: scheduled(), clock: new ManualClock(at(7)) });
  t.teardown(() => h.close());
  await runTo(h, at(7, 1));
  await runTo(h, at(7, 54), 30_000);
  t.is(ready(h), 3, 'before the lead time: the configured size');
  // Nothing is moving; the reconciler still wakes when the window's filling starts (08:00 − 5m).
  const report = await h.app.reconciler.tick();
  t.is(report.nextWakeAt, at(7, 55));
  await h.clock.advance(at(7, 55) - h.clock.now());
  await h.tick();
  t.is(warm(h), 6, 'filled ahead: three more on their way at 07:55');
  await runTo(h, at(8));
  t.is(ready(h), 6, 'at 08:00 the VMs are ready, not booting');
  await runTo(h, at(9, 59), 30_000);
  t.is(ready(h), 6);
  await runTo(h, at(10, 0));
  t.is(warm(h), 3, 'at the window’s end the surplus ready VMs are retired');
});

test('without leadTime, the lead is the boot-to-ready times seen: filling starts shortly before the window', async (t) => {
  const h = createHarness({ config: scheduled(''), clock: new ManualClock(at(7)) });
  t.teardown(() => h.close());
  await runTo(h, at(7, 1));
  await runTo(h, at(7, 50), 30_000);
  t.is(ready(h), 3);
  const report = await h.app.reconciler.tick();
  // Boot 5 s + provisioning 4 s seen; one wave of boots; a quarter to spare: 11.25 s ahead.
  t.is(report.nextWakeAt, at(8) - 11_250);
  await runTo(h, at(8) - 12_000);
  t.is(warm(h), 3, 'not yet');
  await runTo(h, at(8));
  t.is(ready(h), 6, 'ready at 08:00');
});

const note = async (h: Harness) => String(tableRows(await h.say('root', 'admin pools')).find((row) => row.pool === 'physics')!['last error / note']);

test('an admin’s resize wins inside the window, until reset; pools and admin pools say which size and why', async (t) => {
  const h = createHarness({ config: scheduled(), clock: new ManualClock(at(7)) });
  t.teardown(() => h.close());
  await runTo(h, at(7, 1));
  t.false(texts(await h.say('alice', 'pools')).includes('physics warm size'), 'the configured size goes without saying');
  await runTo(h, at(7, 57), 30_000);
  t.true(texts(await h.say('alice', 'pools')).includes('physics warm size 6 from 08:00: morning (filling ahead) (usually 3).'));
  await runTo(h, at(8, 30), 30_000);
  t.is(ready(h), 6);
  t.true(texts(await h.say('alice', 'pools')).includes('physics warm size 6 until 10:00: morning (usually 3).'));
  t.regex(await note(h), /^size 6 until 10:00: morning \(configured 3\)/);
  t.is(tableRows(await h.say('root', 'admin pools')).find((row) => row.pool === 'physics')!.ready, '6/6');

  t.is((await h.say('root', 'admin resize physics 4')).title, 'physics keeps 4 VMs warm (configured: 3)');
  await h.tick();
  t.is(warm(h), 4);
  t.true(texts(await h.say('alice', 'pools')).includes('physics warm size 4: set by admin root (usually 3).'));
  t.regex(await note(h), /^size 4: set by admin root \(configured 3; admin resize physics reset\)/);
  // The configured size, set by an admin in a window, is kept as theirs: a reset would give the window's.
  t.is((await h.say('root', 'admin resize physics 3')).title, 'physics keeps 3 VMs warm (configured: 3)');
  await h.tick();
  t.is(warm(h), 3);
  t.is((await h.say('root', 'admin resize physics reset')).title, 'physics keeps 6 VMs warm, as configured and scheduled');
  await runTo(h, at(8, 31));
  t.is(ready(h), 6, 'back to the window’s size');
});

test('scheduler.timezone: the window is read and shown in it (Europe/London in June: 08:00 BST is 07:00 UTC)', async (t) => {
  const config = scheduled().replace('  poll: 2s\n', '  poll: 2s\n  timezone: Europe/London\n');
  t.not(config, scheduled());
  const june = (h: number, m = 0) => Date.UTC(2026, 5, 1, h, m); // Monday 1 June 2026
  const h = createHarness({ config, clock: new ManualClock(june(6)) });
  t.teardown(() => h.close());
  await runTo(h, june(6, 1));
  await runTo(h, june(6, 54), 30_000);
  t.is(ready(h), 3);
  await runTo(h, june(7, 0), 30_000);
  t.is(ready(h), 6, 'ready by 08:00 London time');
  t.true(texts(await h.say('alice', 'pools')).includes('physics warm size 6 until 10:00: morning (usually 3).'), 'shown in London time');
  await runTo(h, june(9, 0), 60_000);
  t.is(warm(h), 3, 'over at 10:00 London time (09:00 UTC)');
});

test('a configuration with overlapping windows does not start, naming both', (t) => {
  const bad = scheduled('      - { cron: "0 9 * * 1", for: 1h, size: 5, name: monday extra }\n');
  const error = t.throws(() => createHarness({ config: bad }));
  t.regex(error.message, /pools\.physics\.schedule: windows morning and monday extra overlap/);
});
