import test from 'ava';
import { parseConfig } from '../../src/config/load-config.ts';
import { TEST_CONFIG } from '../helpers/harness.ts';

const H = 3_600_000;
const withPoolKeys = (physics: string, defaults = '') =>
  TEST_CONFIG.replace('defaults:\n', `defaults:\n${defaults}`).replace('    owner: { name: Physics software, contact: physics@facility.example }', `    owner: { name: Physics software, contact: physics@facility.example }\n${physics}`);

test('without activity keys: idle after 12h, never released, 2h grace', (t) => {
  const config = parseConfig(TEST_CONFIG, 'test.yaml', {});
  t.deepEqual(config.pools.map((p) => [p.name, p.idle, p.graceWhenBusyMs]), [
    ['physics', { afterMs: 12 * H, releaseAfterMs: null }, 2 * H],
    ['imaging', { afterMs: 12 * H, releaseAfterMs: null }, 2 * H],
  ]);
});

test('per pool, else from defaults: idle.after, idle.releaseAfter (off), graceWhenBusy (0 or off: none)', (t) => {
  const config = parseConfig(withPoolKeys('    idle: { after: 4h, releaseAfter: 1h }\n    graceWhenBusy: 0\n', '  idle: { after: 8h, releaseAfter: off }\n  graceWhenBusy: 3h\n'), 'test.yaml', {});
  const [physics, imaging] = config.pools;
  t.deepEqual([physics!.idle, physics!.graceWhenBusyMs], [{ afterMs: 4 * H, releaseAfterMs: H }, 0]);
  t.deepEqual([imaging!.idle, imaging!.graceWhenBusyMs], [{ afterMs: 8 * H, releaseAfterMs: null }, 3 * H]);
  const off = parseConfig(withPoolKeys('    graceWhenBusy: off\n'), 'test.yaml', {});
  t.is(off.pools[0]!.graceWhenBusyMs, 0);
});

test('malformed activity keys are refused, each named', (t) => {
  const error = t.throws(() => parseConfig(withPoolKeys('    idle: { after: soon, releaseAfer: 1h }\n    graceWhenBusy: forever\n'), 'test.yaml', {}));
  t.regex(error!.message, /pools\.physics\.idle\.after: "soon" is not a duration/);
  t.regex(error!.message, /pools\.physics\.idle.*releaseAfer/);
  t.regex(error!.message, /pools\.physics\.graceWhenBusy: expected a duration such as 30m or 2h, or off/);
});
