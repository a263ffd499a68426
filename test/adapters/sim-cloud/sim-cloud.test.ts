import test from 'ava';
import { join } from 'node:path';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { SimCloud, type SimCloudOptions } from '../../../src/adapters/sim-cloud/sim-cloud.ts';
import { CloudError, type CreateServerRequest } from '../../../src/ports/cloud.ts';
import { seeded, tempDir } from '../../helpers/harness.ts';
import { cloudContract } from '../../ports/cloud-contract.ts';

function sim(options: Partial<SimCloudOptions> = {}) {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock();
  const cloud = new SimCloud({
    clock,
    bootMs: 5_000,
    bootJitter: 0,
    quota: { instances: 20, cores: 100 },
    flavors: { small: { vcpus: 2, gpus: 0 }, big: { vcpus: 40, gpus: 1 } },
    images: ['base'],
    pageSize: 3,
    random: seeded(7),
    ...options,
  });
  return { cloud, clock };
}

const req = (name: string, extra: Partial<CreateServerRequest> = {}): CreateServerRequest => ({
  name,
  image: 'base',
  flavor: 'small',
  networks: [],
  metadata: {},
  tags: ['daaas:t'],
  ...extra,
});

cloudContract(test, 'simulated cloud', async () => {
  const { cloud, clock } = sim();
  return { cloud, advance: (ms) => clock.advance(ms), flavor: 'small', image: 'base', bootMs: 5_000, networks: [], addressed: true, cleanup: async () => {} };
});

test('a boot takes the configured time: BUILD, then ACTIVE with an address', async (t) => {
  const { cloud, clock } = sim();
  const server = await cloud.createServer(req('a'));
  t.is(server.status, 'BUILD');
  t.is(server.address, null);
  await clock.advance(4_999);
  t.is((await cloud.listServers('daaas:t'))[0]?.status, 'BUILD');
  await clock.advance(1);
  const [active] = await cloud.listServers('daaas:t');
  t.is(active?.status, 'ACTIVE');
  t.regex(active?.address ?? '', /^\d+\.\d+\.\d+\.\d+$/);
});

test('boots fail to ERROR with a Nova-like fault at the configured rate', async (t) => {
  const { cloud, clock } = sim({ bootFailureRate: 1 });
  await cloud.createServer(req('a'));
  await clock.advance(5_000);
  const [server] = await cloud.listServers('daaas:t');
  t.is(server?.status, 'ERROR');
  t.regex(server?.fault ?? '', /No valid host/);
});

test('quotas run out: instances and cores, answered 403 like Nova', async (t) => {
  const { cloud } = sim({ quota: { instances: 2, cores: 100 } });
  await cloud.createServer(req('a'));
  await cloud.createServer(req('b'));
  const error = await t.throwsAsync(cloud.createServer(req('c')), { instanceOf: CloudError });
  t.is(error?.status, 403);
  t.regex(error?.message ?? '', /Quota exceeded for instances/);

  const cores = sim({ quota: { instances: 10, cores: 50 } }).cloud;
  await cores.createServer(req('big', { flavor: 'big' }));
  const coreError = await t.throwsAsync(cores.createServer(req('big2', { flavor: 'big' })), { instanceOf: CloudError });
  t.regex(coreError?.message ?? '', /Quota exceeded for cores/);
  t.false(coreError?.transient);
});

test('calls fail on demand with a status and request id, and during an outage with no status', async (t) => {
  const { cloud } = sim();
  cloud.failNext('list', 2, 503);
  for (let i = 0; i < 2; i++) {
    const error = await t.throwsAsync(cloud.listServers('daaas:t'), { instanceOf: CloudError });
    t.is(error?.status, 503);
    t.true(error?.transient);
    t.regex(error?.requestId ?? '', /^req-/);
  }
  t.deepEqual(await cloud.listServers('daaas:t'), []);

  cloud.setOutage(true);
  const down = await t.throwsAsync(cloud.createServer(req('a')), { instanceOf: CloudError });
  t.is(down?.status, null);
  t.true(down?.transient);
  cloud.setOutage(false);
  t.is(cloud.serverCount, 0);
});

test('random API failures happen at the configured rate', async (t) => {
  const { cloud } = sim({ apiFailureRate: 0.5, random: seeded(3) });
  let failures = 0;
  for (let i = 0; i < 200; i++) await cloud.limits().catch(() => failures++);
  t.true(failures > 60 && failures < 140, `${failures} of 200 failed`);
});

test('a list is walked page by page, each page one API call', async (t) => {
  const { cloud } = sim({ pageSize: 3 });
  for (let i = 0; i < 7; i++) await cloud.createServer(req(`s${i}`));
  cloud.calls.list = 0;
  t.is((await cloud.listServers('daaas:t')).length, 7);
  t.is(cloud.calls.list, 3);
});

test('servers outlive the process: state is kept in the data directory', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const statePath = join(dir.path, 'cloud.json');
  const clock = new ManualClock();
  const first = sim({ statePath, clock }).cloud;
  const created = await first.createServer(req('keep', { metadata: { 'daaas:vm': 'v1' } }));
  const second = sim({ statePath, clock }).cloud;
  const [again] = await second.listServers('daaas:t');
  t.is(again?.id, created.id);
  t.is(again?.metadata['daaas:vm'], 'v1');
  await second.deleteServer(created.id);
  t.is(sim({ statePath, clock }).cloud.serverCount, 0);
});

test('latency is real: a call waits on the clock', async (t) => {
  const { cloud, clock } = sim({ latencyMs: 100 });
  let done = false;
  const call = cloud.limits().then(() => (done = true));
  await clock.advance(99);
  t.false(done);
  await clock.advance(1);
  await call;
  t.true(done);
});
