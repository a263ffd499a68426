import test from 'ava';
import { leasesDue } from '../../src/core/lease-due.ts';
import type { LeaseView, PoolSpec } from '../../src/core/model.ts';
import { planLeases } from '../../src/core/plan-leases.ts';

const H = 3_600_000;
const M = 60_000;
const pool = { name: 'p', remindBeforeMs: [24 * H, H, 10 * M] } as PoolSpec;
const pools = new Map([['p', pool]]);
const lease = (expiresAt: number, id = 'l1', poolName = 'p'): LeaseView => ({ id, pool: poolName, expiresAt }) as LeaseView;

test('a lease is due next at its next reminder stage, then at its expiry', (t) => {
  t.deepEqual(leasesDue([lease(100 * H)], pools, 0), [{ leaseId: 'l1', dueAt: 76 * H, expiresAt: 100 * H }]);
  t.deepEqual(leasesDue([lease(100 * H)], pools, 76 * H), [{ leaseId: 'l1', dueAt: 99 * H, expiresAt: 100 * H }]);
  t.deepEqual(leasesDue([lease(100 * H)], pools, 99 * H + 50 * M), [{ leaseId: 'l1', dueAt: 100 * H, expiresAt: 100 * H }]);
});

test('a lease of a pool no longer configured is due at its expiry only', (t) => {
  t.deepEqual(leasesDue([lease(100 * H, 'l9', 'gone')], pools, 0), [{ leaseId: 'l9', dueAt: 100 * H, expiresAt: 100 * H }]);
});

test('a lease kept past its expiry is due at once, so each tick reads it until it ends', (t) => {
  t.deepEqual(leasesDue([lease(100 * H)], pools, 100 * H + 1), [{ leaseId: 'l1', dueAt: 100 * H + 1, expiresAt: 100 * H }]);
});

test('read only when due, a lease gets the same reminders and expiry as when read every minute', (t) => {
  const expiresAt = 30 * H;
  const run = (onlyWhenDue: boolean) => {
    const recorded: { leaseId: string; beforeMs: number; expiresAt: number; status: 'queued' }[] = [];
    const seen: string[] = [];
    let dueAt = 0;
    let reads = 0;
    for (let now = 0; now <= expiresAt; now += M) {
      if (onlyWhenDue && now < dueAt) continue;
      reads++;
      for (const a of planLeases([lease(expiresAt)], pools, recorded, now)) {
        seen.push(`${now}:${a.kind}:${a.kind === 'remind' ? a.beforeMs : ''}`);
        if (a.kind === 'remind') recorded.push({ leaseId: 'l1', beforeMs: a.beforeMs, expiresAt, status: 'queued' });
      }
      dueAt = leasesDue([lease(expiresAt)], pools, now)[0]!.dueAt;
    }
    return { seen, reads };
  };
  const due = run(true);
  const every = run(false);
  t.deepEqual(due.seen, every.seen);
  t.deepEqual(due.seen, [`${6 * H}:remind:${24 * H}`, `${29 * H}:remind:${H}`, `${expiresAt - 10 * M}:remind:${10 * M}`, `${expiresAt}:expire:`]);
  t.is(due.reads, 5, 'read at the start, at each of the three stages and at expiry');
  t.is(every.reads, 30 * 60 + 1);
});
