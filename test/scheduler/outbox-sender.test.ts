import test, { type ExecutionContext } from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { reply, type Reply } from '../../src/chat/reply.ts';
import type { LeaseView } from '../../src/core/model.ts';
import { noticeFor, reminderFor } from '../../src/core/outbox.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { UndeliverableError, type Notifier, type Recipient } from '../../src/ports/notifier.ts';
import { OutboxSender } from '../../src/scheduler/outbox-sender.ts';

const H = 3_600_000;

/** A platform whose answers the test scripts: each call takes the next failure, if any. */
class ScriptedPlatform implements Notifier {
  readonly sent: { user: string; title: string; at: number }[] = [];
  calls = 0;
  failures: unknown[] = [];
  /** While set, calls wait for it. */
  gate: Promise<void> | undefined;
  constructor(private readonly clock: ManualClock) {}
  async notify(to: Recipient, message: Reply): Promise<void> {
    this.calls++;
    if (this.gate) await this.gate;
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push({ user: to.user, title: message.title, at: this.clock.now() });
  }
}

function setup(t: ExecutionContext, options: { concurrency?: number } = {}) {
  const clock = new ManualClock();
  const store = new SqliteStore(':memory:');
  const platform = new ScriptedPlatform(clock);
  const sender = new OutboxSender({ store, notifier: platform, clock, log: silentLogger, retry: { initialMs: 1_000, maxMs: 4_000 }, pollMs: 60_000, ...options });
  t.teardown(async () => {
    await sender.stop();
    store.close();
  });
  let n = 0;
  const lease = (user = `u${n++}`): LeaseView => {
    const vm = store.createVm({ pool: 'p', image: 'i', flavor: 'f', createdAt: clock.now() });
    store.updateVm(vm.id, { state: 'ready', readyAt: clock.now() }, clock.now(), 'booting');
    const outcome = store.claim({ pool: 'p', user, platform: 'test', conversation: user, now: clock.now(), leaseMs: 48 * H, maxLeasesPerUser: 9 });
    if (!outcome.ok) throw new Error(outcome.reason);
    return outcome.lease;
  };
  const queue = (l: LeaseView, title: string) => {
    store.enqueueMessage(noticeFor('teardown', l, reply('info', title), clock.now()));
    sender.wake();
  };
  const statuses = () => store.outboxMessages().map((m) => m.status);
  return { clock, store, platform, sender, lease, queue, statuses };
}

test('nothing is sent before start; then what is queued is delivered once and recorded as sent', async (t) => {
  const s = setup(t);
  s.queue(s.lease('alice'), 'one');
  await s.sender.idle();
  t.is(s.platform.calls, 0, 'not started');
  s.sender.start();
  await s.sender.idle();
  s.queue(s.lease('bob'), 'two');
  await s.sender.idle();
  t.deepEqual(s.platform.sent.map((m) => m.title), ['one', 'two']);
  t.deepEqual(s.statuses(), ['sent', 'sent']);
  await s.clock.advance(10 * 60_000);
  await s.sender.idle();
  t.is(s.platform.calls, 2, 'never again');
});

test('a failure for the moment is retried with back-off; one refused for good is not', async (t) => {
  const s = setup(t);
  s.sender.start();
  s.platform.failures = [new Error('timeout'), new Error('timeout')];
  s.queue(s.lease('alice'), 'retried');
  await s.sender.idle();
  t.deepEqual(s.statuses(), ['pending']);
  await s.clock.advance(999);
  t.is(s.platform.calls, 1, 'not before the back-off');
  await s.clock.advance(1);
  await s.sender.idle();
  t.is(s.platform.calls, 2);
  await s.clock.advance(2_000);
  await s.sender.idle();
  t.is(s.platform.calls, 3, 'the pause doubles');
  t.deepEqual(s.platform.sent.map((m) => m.title), ['retried']);
  t.deepEqual(s.statuses(), ['sent']);

  s.platform.failures = [new UndeliverableError('no such user')];
  s.queue(s.lease('bob'), 'refused');
  await s.sender.idle();
  await s.clock.advance(H);
  await s.sender.idle();
  t.is(s.platform.calls, 4);
  t.like(s.store.outboxMessages()[1], { status: 'failed', lastError: 'no such user' });
});

test('a message that cannot be delivered before its deadline is expired and never sent late', async (t) => {
  const s = setup(t);
  s.sender.start();
  const l = s.lease('alice');
  await s.clock.advance(l.expiresAt - 10 * 60_000 - s.clock.now());
  s.platform.failures = Array.from({ length: 1_000 }, () => new Error('platform down'));
  s.store.enqueueMessage(reminderFor(l, 10 * 60_000, reply('warning', '10 minutes left'), s.clock.now()));
  s.sender.wake();
  for (let i = 0; i < 20; i++) await s.clock.advance(60_000);
  await s.sender.idle();
  t.deepEqual(s.statuses(), ['expired']);
  t.deepEqual(s.platform.sent, []);
  const tries = s.platform.calls;
  s.platform.failures = [];
  await s.clock.advance(H);
  await s.sender.idle();
  t.is(s.platform.calls, tries, 'not tried after its deadline');
});

test('a fan-out goes out with a bounded number in flight, in the order it was queued', async (t) => {
  const s = setup(t, { concurrency: 4 });
  s.sender.start();
  let release!: () => void;
  s.platform.gate = new Promise((resolve) => (release = resolve));
  const leases = Array.from({ length: 20 }, () => s.lease());
  for (const l of leases) s.queue(l, l.user);
  await new Promise((resolve) => setImmediate(resolve));
  t.is(s.platform.calls, 4, 'four handed over, the rest wait in the outbox');
  t.is(s.store.outboxMessages({ status: ['sending'] }).length, 4);
  s.platform.gate = undefined;
  release();
  await s.sender.idle();
  t.deepEqual(s.platform.sent.map((m) => m.user), leases.map((l) => l.user));
  t.deepEqual(new Set(s.statuses()), new Set(['sent']));
});

test('started again after a crash, a message that was being sent is interrupted, not sent again', async (t) => {
  const s = setup(t);
  s.store.enqueueMessage(noticeFor('home-ready', s.lease('alice'), reply('success', 'ready'), s.clock.now()));
  s.store.settleAndClaimMessages([], s.clock.now(), 10); // the previous life claimed it, then died
  s.store.enqueueMessage(noticeFor('home-ready', s.lease('bob'), reply('success', 'ready too'), s.clock.now()));
  s.sender.start();
  await s.sender.idle();
  t.deepEqual(s.platform.sent.map((m) => m.user), ['bob']);
  t.deepEqual(s.statuses(), ['interrupted', 'sent']);
});

test('stop lets the messages in flight finish and records them', async (t) => {
  const s = setup(t);
  s.sender.start();
  let release!: () => void;
  s.platform.gate = new Promise((resolve) => (release = resolve));
  s.queue(s.lease('alice'), 'in flight');
  await new Promise((resolve) => setImmediate(resolve));
  const stopped = s.sender.stop();
  s.queue(s.lease('bob'), 'after stop');
  release();
  await stopped;
  t.deepEqual(s.statuses(), ['sent', 'pending']);
});
