import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import { reply } from '../../../src/chat/reply.ts';
import type { LeaseView } from '../../../src/core/model.ts';
import { noticeFor, reminderFor } from '../../../src/core/outbox.ts';
import { tempDir } from '../../helpers/harness.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const H = 3_600_000;

function setup(t: ExecutionContext, path = ':memory:') {
  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  return { store, lease: () => leaseIn(store) };
}

/** A lease on a fresh ready VM, claimed at T0 for 48 h. */
function leaseIn(store: SqliteStore, user = 'alice'): LeaseView {
  const vm = store.createVm({ pool: 'physics', image: 'img', flavor: 'm1', createdAt: T0 });
  store.updateVm(vm.id, { state: 'ready', readyAt: T0 }, T0, 'booting');
  const outcome = store.claim({ pool: 'physics', user, platform: 'slack', conversation: `D-${user}`, now: T0, leaseMs: 48 * H, maxLeasesPerUser: 5 });
  if (!outcome.ok) throw new Error(outcome.reason);
  return outcome.lease;
}

const body = (title: string) => reply('info', title);

test('a message is queued once per key, with its recipient, body and deadline', (t) => {
  const { store, lease } = setup(t);
  const l = lease();
  t.true(store.enqueueMessage(noticeFor('teardown', l, body('torn down'), T0 + H)));
  t.false(store.enqueueMessage(noticeFor('teardown', l, body('torn down again'), T0 + 2 * H)), 'the same key is not queued twice');
  const [row, ...rest] = store.outboxMessages();
  t.deepEqual(rest, []);
  t.like(row, { key: `teardown:${l.id}`, kind: 'teardown', leaseId: l.id, status: 'pending', attempts: 0, nextAt: T0 + H, deliverBy: T0 + 25 * H });
  t.deepEqual(row!.to, { platform: 'slack', user: 'alice', conversation: 'D-alice' });
  t.deepEqual(row!.body, body('torn down'));
});

test('claiming marks due messages sending, oldest first, up to the limit; outcomes are recorded in the same transaction', (t) => {
  const { store } = setup(t);
  const leases = ['a', 'b', 'c'].map((u) => leaseIn(store, u));
  leases.forEach((l, i) => store.enqueueMessage(noticeFor('home-ready', l, body(l.user), T0 + i)));
  t.deepEqual(store.settleAndClaimMessages([], T0 - 1, 10), [], 'nothing is due before it was queued');
  const first = store.settleAndClaimMessages([], T0 + 5, 2);
  t.deepEqual(first.map((r) => [r.to.user, r.status, r.attempts]), [['a', 'sending', 1], ['b', 'sending', 1]]);
  const second = store.settleAndClaimMessages([{ id: first[0]!.id, outcome: { status: 'sent' } }, { id: first[1]!.id, outcome: { status: 'pending', retryAt: T0 + H, error: 'timeout' } }], T0 + 6, 10);
  t.deepEqual(second.map((r) => r.to.user), ['c']);
  t.deepEqual(store.outboxMessages().map((r) => [r.to.user, r.status]), [['a', 'sent'], ['b', 'pending'], ['c', 'sending']]);
  t.is(store.nextMessageDueAt(), T0 + H);
  t.is(store.outboxMessages({ status: ['pending'] })[0]!.lastError, 'timeout');
  // A message settled twice keeps its first outcome.
  store.settleAndClaimMessages([{ id: first[0]!.id, outcome: { status: 'failed', error: 'late' } }], T0 + 7, 0);
  t.is(store.outboxMessages()[0]!.status, 'sent');
});

test('a due message past its deadline is expired, never claimed', (t) => {
  const { store, lease } = setup(t);
  const l = lease();
  store.enqueueMessage(reminderFor(l, H, body('1 h left'), l.expiresAt - H));
  t.deepEqual(store.settleAndClaimMessages([], l.expiresAt + 1, 10), []);
  t.like(store.outboxMessages()[0], { status: 'expired', doneAt: l.expiresAt + 1 });
  t.is(store.nextMessageDueAt(), null);
});

test('after a restart, messages left sending are interrupted and never claimed again (at most once)', (t) => {
  const dir = tempDir('daaas-outbox-');
  t.teardown(dir.remove);
  const path = join(dir.path, 'daaas.db');
  const first = new SqliteStore(path);
  const l = leaseIn(first);
  first.enqueueMessage(noticeFor('home-ready', l, body('ready'), T0));
  t.is(first.settleAndClaimMessages([], T0, 10).length, 1);
  first.close(); // killed while sending

  const { store } = setup(t, path);
  t.is(store.interruptSendingMessages(T0 + 1), 1);
  t.deepEqual(store.settleAndClaimMessages([], T0 + H, 10), []);
  t.like(store.outboxMessages()[0], { status: 'interrupted', doneAt: T0 + 1 });
});

test('a newer reminder, an extension or the end of the lease supersedes what is still waiting', (t) => {
  const { store, lease } = setup(t);
  const l = lease();
  store.enqueueMessage(reminderFor(l, 24 * H, body('1 d'), T0 + 24 * H));
  store.enqueueMessage(reminderFor(l, H, body('1 h'), T0 + 47 * H));
  t.deepEqual(store.outboxMessages().map((r) => [r.key.split(':')[2], r.status]), [[`${24 * H}`, 'superseded'], [`${H}`, 'pending']]);

  t.true(store.extendLease(l.id, l.expiresAt + 24 * H, 0));
  t.deepEqual(store.outboxMessages().map((r) => r.status), ['superseded', 'superseded'], 'it counted down to the old expiry');

  const extended = store.getLease(l.id)!;
  store.enqueueMessage(reminderFor(extended, H, body('1 h'), T0 + 71 * H));
  store.enqueueMessage(noticeFor('home-ready', extended, body('ready'), T0 + 71 * H));
  t.true(store.endLease(l.id, 'released', T0 + 71 * H + 1));
  t.deepEqual(store.outboxMessages({ leaseId: l.id, status: ['pending'] }), []);
  // A teardown notice queued in the transaction that ends the lease is kept.
  const other = leaseIn(store, 'bob');
  store.transaction(() => {
    store.endLease(other.id, 'expired', T0 + 48 * H);
    store.enqueueMessage(noticeFor('teardown', other, body('gone'), T0 + 48 * H));
  });
  t.deepEqual(store.outboxMessages({ leaseId: other.id }).map((r) => [r.kind, r.status]), [['teardown', 'pending']]);
});

test('settled messages are pruned after a while; waiting ones never', (t) => {
  const { store } = setup(t);
  const [a, b] = [leaseIn(store, 'a'), leaseIn(store, 'b')];
  store.enqueueMessage(noticeFor('home-ready', a, body('a'), T0));
  store.enqueueMessage(noticeFor('home-ready', b, body('b'), T0 + H));
  const [claimed] = store.settleAndClaimMessages([], T0, 1);
  store.settleAndClaimMessages([{ id: claimed!.id, outcome: { status: 'sent' } }], T0 + 1, 0);
  t.is(store.pruneMessages(T0 + 1), 0, 'not yet');
  t.is(store.pruneMessages(T0 + 100 * H), 1);
  t.deepEqual(store.outboxMessages().map((m) => [m.to.user, m.status]), [['b', 'pending']]);
});

test('a message queued in a transaction that rolls back is not queued', (t) => {
  const { store, lease } = setup(t);
  const l = lease();
  t.throws(() =>
    store.transaction(() => {
      store.endLease(l.id, 'expired', T0 + 48 * H);
      store.enqueueMessage(noticeFor('teardown', l, body('gone'), T0 + 48 * H));
      throw new Error('crash in between');
    }),
  );
  t.deepEqual(store.outboxMessages(), []);
  t.is(store.getLease(l.id)?.endedAt, null);
});
