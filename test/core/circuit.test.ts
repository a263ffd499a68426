import test from 'ava';
import { circuitOf, closedCircuit, configChangedSince } from '../../src/core/circuit.ts';
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
  t.true(configChangedSince({ image: 'a', flavor: 'f' }, { image: 'b', flavor: 'f' }));
  t.true(configChangedSince({ image: 'a', flavor: 'f' }, { image: 'a', flavor: 'g' }));
  t.false(configChangedSince({ image: 'a', flavor: 'f' }, { image: 'a', flavor: 'f' }));
  t.false(configChangedSince(undefined, { image: 'a', flavor: 'f' }));
});
