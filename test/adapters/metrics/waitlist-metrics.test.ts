import test from 'ava';
import { PromMetrics } from '../../../src/adapters/metrics/prom-metrics.ts';

test('/metrics: queue length per pool read when scraped, claim-to-VM wait, holds by outcome, share served at once', async (t) => {
  const m = new PromMetrics(() => []);
  let waiting = 4;
  m.watchQueues(() => [{ pool: 'physics', length: waiting }, { pool: 'imaging', length: 0 }]);
  m.claimServed('physics', 0);
  m.claimServed('physics', 0);
  m.claimServed('physics', 0);
  m.claimServed('physics', 45_000);
  m.hold('physics', 'offered');
  m.hold('physics', 'offered');
  m.hold('physics', 'taken');
  m.hold('physics', 'lapsed');
  waiting = 7;
  const text = await m.render();
  for (const line of [
    'daaas_queue_length{pool="physics"} 7',
    'daaas_queue_length{pool="imaging"} 0',
    'daaas_claim_wait_seconds_count{pool="physics"} 4',
    'daaas_claim_wait_seconds_sum{pool="physics"} 45',
    'daaas_claim_wait_seconds_bucket{le="0",pool="physics"} 3',
    'daaas_claim_wait_seconds_bucket{le="60",pool="physics"} 4',
    'daaas_holds_total{pool="physics",event="offered"} 2',
    'daaas_holds_total{pool="physics",event="taken"} 1',
    'daaas_holds_total{pool="physics",event="lapsed"} 1',
    'daaas_claims_served_total{pool="physics",how="instant"} 3',
    'daaas_claims_served_total{pool="physics",how="queued"} 1',
    'daaas_claims_served_instantly_ratio{pool="physics"} 0.75',
  ]) t.true(text.includes(line), line);
});
