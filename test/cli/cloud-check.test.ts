import test from 'ava';
import { connectOpenStack } from '../../src/adapters/openstack/connect.ts';
import { SystemClock } from '../../src/adapters/system-clock.ts';
import { checkCloud } from '../../src/cli/cloud-check.ts';
import type { PoolSpec } from '../../src/core/model.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { FakeOpenStack } from '../helpers/fake-openstack.ts';

const OPTIONS = { pageSize: 200, timeout: 5_000, imageRefresh: 60_000, securityGroups: [] };
const pool = (over: Partial<PoolSpec>): PoolSpec => ({ name: 'physics', image: 'physics-base', flavor: 'm1.small', networks: [], size: 3, ...over }) as PoolSpec;

async function check(fake: FakeOpenStack, pools: PoolSpec[], env = fake.env()) {
  const clock = new SystemClock();
  return checkCloud({ ...connectOpenStack(OPTIONS, env, clock, silentLogger), pools, now: clock.now() });
}

test('a cloud with everything the pools need: every finding is fine', async (t) => {
  const fake = await new FakeOpenStack().start();
  t.teardown(() => fake.stop());
  const findings = await check(fake, [pool({}), pool({ name: 'gpu', flavor: 'g1.gpu', networks: ['facility-analysis'], size: 1 })]);
  t.deepEqual(findings.filter((f) => !f.ok), []);
  const text = findings.map((f) => `${f.subject}: ${f.message}`).join('\n');
  t.regex(text, /authentication: authenticated with .* using the OS_\* variables; project \w+/);
  t.regex(text, /compute API: microversions up to 2\.93; the bot uses 2\.52/);
  t.regex(text, /pool gpu: flavor: "g1\.gpu" has 8 vCPUs/);
  t.regex(text, /pool gpu: network: "facility-analysis" is [0-9a-f-]{36}/);
  t.regex(text, /quota: 50 instances and 200 cores free \(of 50 and 200\); filling every pool to its size needs 4 and 11/);
});

test('what is missing is named in plain words: image, flavour, network, quota', async (t) => {
  const fake = await new FakeOpenStack({ quota: { instances: 2, cores: 100 } }).start();
  t.teardown(() => fake.stop());
  const findings = await check(fake, [pool({ image: 'physics-old', flavor: 'c9.huge', networks: ['nowhere'] })]);
  t.deepEqual(
    findings.filter((f) => !f.ok).map((f) => `${f.subject}: ${f.message}`),
    [
      'pool physics: image: image "physics-old" does not exist in this cloud or is not active',
      'pool physics: flavor: read flavor: flavor "c9.huge" does not exist in this cloud (it has: m1.small, g1.gpu)',
      'pool physics: network: network "nowhere" does not exist in this cloud',
      'quota: 2 instances and 100 cores free (of 2 and 100); filling every pool to its size needs 3 and 0: ask the cloud operators for more, or lower the pool sizes',
    ],
  );
});

test('refused credentials stop the check at the first step, saying so', async (t) => {
  const fake = await new FakeOpenStack().start();
  t.teardown(() => fake.stop());
  const findings = await check(fake, [pool({})], fake.env({ OS_PASSWORD: 'wrong' }));
  t.is(findings.length, 1);
  t.like(findings[0], { ok: false, subject: 'authentication' });
  t.regex(findings[0]!.message, /answered 401/);
});
