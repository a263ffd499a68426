import test from 'ava';
import { ConfigError, parseConfig } from '../../src/config/load-config.ts';
import { TEST_CONFIG } from '../helpers/harness.ts';

const withDefaults = (extra: string) => TEST_CONFIG.replace('  maxExtensions: 2\n', `  maxExtensions: 2\n${extra}`);
const withPhysics = (extra: string) => TEST_CONFIG.replace('    groups: [physics]\n', `    groups: [physics]\n${extra}`);

test('every pool queues by default: a 10-minute hold, no auto-assign, one extension while others wait', (t) => {
  const config = parseConfig(TEST_CONFIG.replace(/  queue: false\n/, ''), 't.yaml', {});
  const physics = config.pools.find((p) => p.name === 'physics')!;
  t.like(physics, { queue: true, holdForMs: 600_000, autoAssign: false, extendWhileQueued: 'once' });
});

test('the waitlist keys per pool and in defaults, the pool’s winning', (t) => {
  const config = parseConfig(withDefaults('  holdFor: 5m\n  extendWhileQueued: refuse\n').replace('    groups: [physics]\n', '    groups: [physics]\n    queue: false\n    holdFor: 2m\n    autoAssign: true\n    extendWhileQueued: allow\n'), 't.yaml', {});
  t.like(config.pools.find((p) => p.name === 'physics'), { queue: false, holdForMs: 120_000, autoAssign: true, extendWhileQueued: 'allow' });
  t.like(config.pools.find((p) => p.name === 'imaging'), { holdForMs: 300_000, extendWhileQueued: 'refuse' });
});

test('malformed waitlist keys are refused, naming the key', (t) => {
  for (const [extra, said] of [
    ['    extendWhileQueued: sometimes\n', /extendWhileQueued is allow, once or refuse/],
    ['    holdFor: soon\n', /"soon" is not a duration/],
    ['    queue: maybe\n', /queue/],
    ['    autoAssign: 1\n', /autoAssign/],
  ] as const) {
    const error = t.throws(() => parseConfig(withPhysics(extra), 't.yaml', {}), { instanceOf: ConfigError });
    t.regex(error!.message, said, extra);
  }
});
