import test from 'ava';
import type { LeaseView, PoolSpec } from '../../src/core/model.ts';
import { dueStages, nextLeaseEvent, planLeases } from '../../src/core/plan-leases.ts';

const H = 3_600_000;
const M = 60_000;
const pool = { name: 'p', remindBeforeMs: [24 * H, H, 10 * M] } as PoolSpec;
const pools = new Map([['p', pool]]);
const lease = (expiresAt: number, id = 'l1'): LeaseView => ({ id, pool: 'p', expiresAt }) as LeaseView;

test('no stage is due long before expiry; stages fall due in order', (t) => {
  t.deepEqual(dueStages(lease(100 * H), pool, 0), []);
  t.deepEqual(dueStages(lease(100 * H), pool, 76 * H), [24 * H]);
  t.deepEqual(dueStages(lease(100 * H), pool, 100 * H - 5 * M), [24 * H, H, 10 * M]);
});

test('the most urgent due stage is sent and the missed ones are superseded', (t) => {
  const [action] = planLeases([lease(100 * H)], pools, [], 100 * H - 30 * M);
  t.deepEqual(action && action.kind === 'remind' ? [action.beforeMs, action.superseded] : action, [H, [24 * H]]);
});

test('a stage already recorded for this expiry is not sent again, but is for a new expiry', (t) => {
  const recorded = [{ leaseId: 'l1', beforeMs: H, expiresAt: 100 * H, status: 'sent' as const }];
  t.deepEqual(planLeases([lease(100 * H)], pools, recorded, 100 * H - 30 * M), []);
  const extended = planLeases([lease(124 * H)], pools, recorded, 100 * H);
  t.is(extended[0]?.kind, 'remind');
});

test('an expired lease is torn down, with no reminder', (t) => {
  t.deepEqual(planLeases([lease(10 * H)], pools, [], 10 * H).map((a) => a.kind), ['expire']);
});

test('the next lease event is the nearest reminder or expiry still ahead', (t) => {
  t.is(nextLeaseEvent([lease(100 * H), lease(50 * H, 'l2')], pools, 0), 26 * H);
  t.is(nextLeaseEvent([lease(100 * H)], pools, 99 * H + 55 * M), 100 * H);
  t.is(nextLeaseEvent([], pools, 0), null);
});
