import test from 'ava';
import type { LeaseView } from '../../src/core/model.ts';
import { afterFailure, DELIVER_WITHIN_MS, messageKey, noticeFor, reminderFor } from '../../src/core/outbox.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const H = 3_600_000;
const lease = { id: 'L1', user: 'alice', platform: 'teams', conversation: 'u1', expiresAt: T0 + 48 * H } as LeaseView;
const body = { tone: 'info' as const, title: 'x', blocks: [] };

test('keys name the lease, the kind and the stage', (t) => {
  t.is(messageKey('teardown', 'L1'), 'teardown:L1');
  t.is(reminderFor(lease, H, body, T0).key, `reminder:L1:${H}:${T0 + 48 * H}`);
  t.is(noticeFor('home-ready', lease, body, T0).key, 'home-ready:L1');
});

test('a reminder is worth sending until the lease expires and replaces one still waiting; a notice for a day', (t) => {
  t.like(reminderFor(lease, H, body, T0), { deliverBy: T0 + 48 * H, replacesPending: true, kind: 'reminder', leaseId: 'L1' });
  const notice = noticeFor('teardown', lease, body, T0);
  t.is(notice.deliverBy, T0 + DELIVER_WITHIN_MS);
  t.is(notice.replacesPending, undefined);
  t.deepEqual(notice.to, { platform: 'teams', user: 'alice', conversation: 'u1' });
});

test('after a failure: refused for good fails; otherwise back-off, doubling, until the deadline', (t) => {
  const retry = { initialMs: 1_000, maxMs: 8_000 };
  const message = (attempts: number) => ({ attempts, deliverBy: T0 + 60_000 });
  t.deepEqual(afterFailure(message(1), { text: 'gone', permanent: true }, T0, retry), { status: 'failed', error: 'gone' });
  t.deepEqual(afterFailure(message(1), { text: 'busy', permanent: false }, T0, retry), { status: 'pending', retryAt: T0 + 1_000, error: 'busy' });
  t.deepEqual(afterFailure(message(3), { text: 'busy', permanent: false }, T0, retry), { status: 'pending', retryAt: T0 + 4_000, error: 'busy' });
  t.deepEqual(afterFailure(message(9), { text: 'busy', permanent: false }, T0, retry), { status: 'pending', retryAt: T0 + 8_000, error: 'busy' });
  t.deepEqual(afterFailure(message(9), { text: 'busy', permanent: false }, T0 + 55_000, retry), { status: 'expired', error: 'busy' });
});
