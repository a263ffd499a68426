import test from 'ava';
import { PromMetrics } from '../../../src/adapters/metrics/prom-metrics.ts';

test('every figure the issue names is exposed in Prometheus format, pool gauges read at scrape time', async (t) => {
  let ready = 2;
  const m = new PromMetrics(() => [
    { pool: 'physics', state: 'ready', count: ready },
    { pool: 'physics', state: 'claimed', count: 1 },
  ]);
  m.command('claim', 'ok', 3);
  m.command('claim', 'POOL_EMPTY', 1);
  m.command('status', 'ok', 2);
  m.tick(12);
  m.vmReady('physics', 4_000, 3_000);
  m.provisioningFailed('physics');
  m.reminder('sent');
  m.reminder('failed');
  m.poolEmpty('physics', 90_000);
  m.cloudCall('list servers', 'ok', 20);
  m.cloudCall('boot', '403', 30);
  ready = 5;
  const text = await m.render();
  for (const line of [
    'daaas_claims_total{result="ok"} 1',
    'daaas_claims_total{result="POOL_EMPTY"} 1',
    'daaas_command_duration_seconds_count{command="claim",result="ok"} 1',
    'daaas_scheduler_tick_duration_seconds_count 1',
    'daaas_boot_duration_seconds_sum{pool="physics"} 4',
    'daaas_provisioning_duration_seconds_sum{pool="physics"} 3',
    'daaas_provisioning_failures_total{pool="physics"} 1',
    'daaas_reminders_total{result="sent"} 1',
    'daaas_reminders_total{result="failed"} 1',
    'daaas_pool_empty_seconds_total{pool="physics"} 90',
    'daaas_cloud_calls_total{operation="list servers",result="ok"} 1',
    'daaas_cloud_errors_total{operation="boot",result="403"} 1',
    'daaas_pool_vms{pool="physics",state="ready"} 5',
    'daaas_pool_vms{pool="physics",state="claimed"} 1',
  ]) {
    t.true(text.includes(line), `missing: ${line}`);
  }
  t.false(text.includes('daaas_cloud_errors_total{operation="list servers"'), 'a successful call is not an error');
});

test('the admin summary: claim latency median and 95th percentile over recent claims, and time empty', (t) => {
  const m = new PromMetrics(() => []);
  t.is(m.summary().claimLatencyMs, null);
  for (let ms = 1; ms <= 100; ms++) m.command('claim', 'ok', ms);
  m.command('status', 'ok', 5_000);
  t.deepEqual(m.summary().claimLatencyMs, { p50: 51, p95: 96, count: 100 });
  m.poolEmpty('physics', 1_000);
  m.poolEmpty('physics', 2_000);
  t.is(m.summary().emptyMs.get('physics'), 3_000);
});

test('each pool’s circuit breaker is exported, read at scrape time: 1 open or trying, 0 closed', async (t) => {
  let physics = 'closed';
  const m = new PromMetrics(() => []);
  m.watchCircuits(() => [{ pool: 'physics', state: physics }, { pool: 'imaging', state: 'trial' }]);
  t.true((await m.render()).includes('daaas_pool_circuit_open{pool="physics",state="closed"} 0'));
  physics = 'open';
  const text = await m.render();
  t.true(text.includes('daaas_pool_circuit_open{pool="physics",state="open"} 1'));
  t.false(text.includes('state="closed"'), 'the old state is not left behind');
  t.true(text.includes('daaas_pool_circuit_open{pool="imaging",state="trial"} 1'));
});

test('open alerts are exported by kind and pool, read at scrape time; none gives no series', async (t) => {
  const m = new PromMetrics(() => []);
  let open: { kind: string; pool: string }[] = [];
  m.watchAlerts(() => open);
  t.false((await m.render()).includes('daaas_alerts_open{'));
  open = [{ kind: 'circuit-open', pool: 'physics' }, { kind: 'cloud-unreachable', pool: '' }, { kind: 'setup-failing', pool: '' }, { kind: 'setup-failing', pool: '' }];
  const text = await m.render();
  t.true(text.includes('daaas_alerts_open{kind="circuit-open",pool="physics"} 1'));
  t.true(text.includes('daaas_alerts_open{kind="cloud-unreachable",pool=""} 1'));
  t.true(text.includes('daaas_alerts_open{kind="setup-failing",pool=""} 2'), 'two users failing: two alerts of the kind');
  open = [];
  t.false((await m.render()).includes('daaas_alerts_open{'), 'resolved alerts leave no series behind');
});
