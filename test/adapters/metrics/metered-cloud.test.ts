import test from 'ava';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { MeteredCloud } from '../../../src/adapters/metrics/metered-cloud.ts';
import { PromMetrics } from '../../../src/adapters/metrics/prom-metrics.ts';
import { SimCloud } from '../../../src/adapters/sim-cloud/sim-cloud.ts';

test('each cloud call is counted by operation and result, failures with their status or as network errors', async (t) => {
  const clock = new ManualClock();
  const sim = new SimCloud({ clock, bootMs: 1_000, quota: { instances: 5, cores: 50 }, flavors: { small: { vcpus: 1, gpus: 0 } }, images: ['base'] });
  const metrics = new PromMetrics(() => []);
  const cloud = new MeteredCloud(sim, metrics, clock);
  const created = await cloud.createServer({ name: 'a', image: 'base', flavor: 'small', networks: [], metadata: {}, tags: ['t'] });
  await cloud.listServers('t');
  sim.failNext('list', 1, 503);
  await t.throwsAsync(cloud.listServers('t'));
  sim.setOutage(true);
  await t.throwsAsync(cloud.deleteServer(created.id));
  const text = await metrics.render();
  t.true(text.includes('daaas_cloud_calls_total{operation="boot",result="ok"} 1'));
  t.true(text.includes('daaas_cloud_calls_total{operation="list servers",result="ok"} 1'));
  t.true(text.includes('daaas_cloud_errors_total{operation="list servers",result="503"} 1'));
  t.true(text.includes('daaas_cloud_errors_total{operation="delete server",result="network"} 1'));
});
