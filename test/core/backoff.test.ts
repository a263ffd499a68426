import test from 'ava';
import { backoffMs, poolHealthAfterError, userSetupFailuresAfter } from '../../src/core/backoff.ts';
import type { PoolHealth } from '../../src/core/model.ts';

const settings = { backoffInitialMs: 1_000, backoffMaxMs: 10_000 };
const healthy: PoolHealth = { pool: 'physics', lastError: null, lastErrorAt: null, consecutiveFailures: 0, backoffUntil: null };

test('back-off doubles from the initial wait and stops at the maximum, even after very many failures', (t) => {
  t.is(backoffMs(0, 1_000, 10_000), 0);
  t.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(n, 1_000, 10_000)), [1_000, 2_000, 4_000, 8_000, 10_000]);
  t.is(backoffMs(10_000, 1_000, 10_000), 10_000);
});

test('a failure that counts lengthens the run and pushes the pool back-off out from now', (t) => {
  const once = poolHealthAfterError(healthy, { message: 'boot: quota', at: 100, countsAsFailure: true }, settings);
  t.deepEqual(once, { pool: 'physics', lastError: 'boot: quota', lastErrorAt: 100, consecutiveFailures: 1, backoffUntil: 1_100 });
  const twice = poolHealthAfterError(once, { message: 'boot: quota', at: 2_000, countsAsFailure: true }, settings);
  t.is(twice.consecutiveFailures, 2);
  t.is(twice.backoffUntil, 4_000);
});

test('an error that does not count is noted but leaves the run and the back-off alone', (t) => {
  const failing = { ...healthy, consecutiveFailures: 3, backoffUntil: 9_000 };
  const noted = poolHealthAfterError(failing, { message: 'delete-server: timeout', at: 5_000, countsAsFailure: false }, settings);
  t.deepEqual(noted, { pool: 'physics', lastError: 'delete-server: timeout', lastErrorAt: 5_000, consecutiveFailures: 3, backoffUntil: 9_000 });
  // A pool without failures still backs off at least the initial wait once one counts.
  t.is(poolHealthAfterError(healthy, { message: 'x', at: 0, countsAsFailure: true }, settings).backoffUntil, 1_000);
});

test("a user's set-up failures count up and their claims wait longer each time", (t) => {
  const first = userSetupFailuresAfter(undefined, { user: 'alice', message: 'no such account', at: 100 }, settings);
  t.deepEqual(first, { user: 'alice', failures: 1, lastError: 'no such account', lastFailedAt: 100, retryAt: 1_100 });
  const second = userSetupFailuresAfter(first, { user: 'alice', message: 'account locked', at: 5_000 }, settings);
  t.deepEqual(second, { user: 'alice', failures: 2, lastError: 'account locked', lastFailedAt: 5_000, retryAt: 7_000 });
});
