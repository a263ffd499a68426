import test from 'ava';
import { DEFAULT_RETENTION, moreToPrune, prunedTotal, retentionCutoffs } from '../../src/core/retention.ts';

const DAY = 86_400_000;

test('history is kept 90 days and the audit trail 400 by default: the cutoffs are that far back', (t) => {
  const now = Date.UTC(2026, 5, 1);
  t.deepEqual(retentionCutoffs(now, DEFAULT_RETENTION), { historyBefore: now - 90 * DAY, auditBefore: now - 400 * DAY });
  t.deepEqual(retentionCutoffs(now, { historyMs: DAY, auditMs: 2 * DAY }), { historyBefore: now - DAY, auditBefore: now - 2 * DAY });
});

test('a batch that filled its limit for any kind may have left more; one below it for every kind did not', (t) => {
  t.true(moreToPrune({ reminders: 0, leases: 500, vms: 3, audit: 0 }, 500));
  t.true(moreToPrune({ reminders: 0, leases: 0, vms: 0, audit: 500 }, 500));
  t.false(moreToPrune({ reminders: 499, leases: 499, vms: 499, audit: 499 }, 500));
  t.false(moreToPrune({ reminders: 0, leases: 0, vms: 0, audit: 0 }, 500));
  t.is(prunedTotal({ reminders: 1, leases: 2, vms: 3, audit: 4 }), 10);
});
