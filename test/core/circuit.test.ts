import test from 'ava';
import { circuitOf, closedCircuit, failedUnderOtherSpec, specFingerprint } from '../../src/core/circuit.ts';
import type { PoolHealth } from '../../src/core/model.ts';

const SETTINGS = { failureLimit: 3, circuitRetryMs: 30 * 60_000 };
const health = (failures: number, at = 1_000): PoolHealth => ({ pool: 'p', lastError: 'boom', lastErrorAt: at, consecutiveFailures: failures, backoffUntil: at + 60_000 });

test('closed below the failure limit, open from it, one trial after circuitRetry since the last failure', (t) => {
  t.deepEqual(circuitOf(health(2), 5_000, SETTINGS), { state: 'closed' });
  t.deepEqual(circuitOf(health(3), 5_000, SETTINGS), { state: 'open', failures: 3, lastError: 'boom', retryAt: 1_000 + 30 * 60_000 });
  t.is(circuitOf(health(3), 1_000 + 30 * 60_000, SETTINGS).state, 'trial');
  t.is(circuitOf(health(4, 1_000 + 30 * 60_000), 1_000 + 30 * 60_000, SETTINGS).state, 'open', 'a failed trial opens it again for as long');
});

test('closing ends the run of failures and the back-off; a changed image or flavour closes it', (t) => {
  t.deepEqual(closedCircuit(health(5)), { ...health(5), consecutiveFailures: 0, backoffUntil: null });
  const pool = { image: 'a', flavor: 'f', networks: ['n2', 'n1'] };
  const failing = { ...health(3), spec: specFingerprint(pool) };
  t.false(failedUnderOtherSpec(failing, pool));
  t.false(failedUnderOtherSpec(failing, { ...pool, networks: ['n1', 'n2'] }), 'the order of networks does not matter');
  t.true(failedUnderOtherSpec(failing, { ...pool, image: 'b' }));
  t.true(failedUnderOtherSpec(failing, { ...pool, flavor: 'g' }));
  t.true(failedUnderOtherSpec(failing, { ...pool, networks: ['n1'] }));
  t.false(failedUnderOtherSpec({ ...failing, consecutiveFailures: 0 }, { ...pool, image: 'b' }), 'no failures: nothing to close');
  t.false(failedUnderOtherSpec(health(3), { ...pool, image: 'b' }), 'failures from before fingerprints were kept are left to the trial boot');
});
