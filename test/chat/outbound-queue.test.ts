import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { OutboundQueue, SlidingWindows, TokenBucket, type Limiter, type OutboundPolicy } from '../../src/chat/outbound-queue.ts';
import { silentLogger } from '../../src/ports/logger.ts';

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

test('a token bucket: a burst, then the sustained rate; a pause holds it', (t) => {
  const bucket = new TokenBucket(60, 2);
  t.is(bucket.waitMs(0), 0);
  bucket.take(0);
  bucket.take(0);
  t.is(bucket.waitMs(0), 1_000);
  t.is(bucket.waitMs(1_000), 0);
  bucket.pauseUntil(5_000);
  t.is(bucket.waitMs(1_000), 4_000);
  t.false(bucket.quiet(1_000));
  t.true(bucket.quiet(10_000), 'full again and no pause');
});

test('sliding windows: every window holds at once', (t) => {
  const windows = new SlidingWindows([
    { limit: 2, ms: 1_000 },
    { limit: 3, ms: 10_000 },
  ]);
  windows.take(0);
  windows.take(0);
  t.is(windows.waitMs(0), 1_000);
  windows.take(1_000);
  t.is(windows.waitMs(1_000), 9_000, 'the longer window is full');
  t.true(windows.quiet(11_001));
});

interface Setup {
  limiters?: Record<string, () => Limiter | null>;
  retry?: (error: unknown, attempt: number) => number | undefined;
  pausesLimits?: boolean;
  concurrency?: number;
}

function setup(o: Setup = {}) {
  const clock = new ManualClock();
  const t0 = clock.now();
  const policy: OutboundPolicy = {
    platform: 'Test',
    shape: (job) => job,
    limiter: (key) => o.limiters?.[key]?.() ?? null,
    retryDelayMs: o.retry ?? (() => undefined),
    retryPausesLimits: o.pausesLimits ?? false,
    concurrency: o.concurrency ?? 8,
    maxAttempts: 3,
  };
  const queue = new OutboundQueue({ clock, log: silentLogger, policy });
  const sent: { what: string; at: number }[] = [];
  const send = (what: string, job: { lane?: string; limits?: string[]; urgent?: boolean; failures?: unknown[] } = {}) =>
    queue.push({
      kind: 'test',
      limits: job.limits ?? [],
      ...(job.lane !== undefined ? { lane: job.lane } : {}),
      ...(job.urgent ? { urgent: true } : {}),
      run: async () => {
        const failure = job.failures?.shift();
        if (failure) throw failure;
        sent.push({ what, at: clock.now() - t0 });
        return what;
      },
    });
  return { clock, queue, sent, send };
}

test('a lane goes one at a time and in order; lanes and calls without one do not wait for each other', async (t) => {
  const { clock, sent, send } = setup({ limiters: { A: () => new SlidingWindows([{ limit: 1, ms: 1_000 }]) } });
  const all = Promise.all([send('a1', { lane: 'A', limits: ['A'] }), send('a2', { lane: 'A', limits: ['A'] }), send('b1', { lane: 'B' }), send('free')]);
  await settle();
  t.deepEqual(sent.map((s) => s.what), ['a1', 'b1', 'free']);
  await clock.advance(1_000);
  t.deepEqual(await all, ['a1', 'a2', 'b1', 'free']);
  t.deepEqual(sent.at(-1), { what: 'a2', at: 1_000 });
});

test('urgent calls go first, across lanes, within the concurrency', async (t) => {
  const { clock, sent, send } = setup({ limiters: { shared: () => new TokenBucket(60, 1) }, concurrency: 1 });
  const calls = ['r1', 'r2', 'r3'].map((r) => send(r, { lane: r, limits: ['shared'] }));
  await settle();
  const answer = send('answer', { lane: 'x', limits: ['shared'], urgent: true });
  for (let i = 0; i < 3; i++) await clock.advance(1_000);
  await Promise.all([...calls, answer]);
  t.deepEqual(sent.map((s) => s.what), ['r1', 'answer', 'r2', 'r3']);
});

test('a retry holds its lane, or every call under its limits when the platform says so', async (t) => {
  const busy = new Error('busy');
  for (const pausesLimits of [false, true]) {
    const { clock, sent, send } = setup({ limiters: { m: () => new TokenBucket(6_000, 10) }, retry: () => 2_000, pausesLimits });
    const first = send('a1', { lane: 'A', limits: ['m'], failures: [busy] });
    await settle();
    const behind = send('a2', { lane: 'A', limits: ['m'] });
    const other = send('b1', { lane: 'B', limits: ['m'] });
    await settle();
    t.deepEqual(sent.map((s) => s.what), pausesLimits ? [] : ['b1'], pausesLimits ? 'the method is paused' : 'only the lane waits');
    await clock.advance(2_000);
    await Promise.all([first, behind, other]);
    t.deepEqual(sent.filter((s) => s.what.startsWith('a')).map((s) => [s.what, s.at]), [['a1', 2_000], ['a2', 2_000]], 'in order, after the pause');
  }
});

test('given up after maxAttempts with the last error; stop fails a call waiting for a retry with its error', async (t) => {
  const { clock, queue, send } = setup({ retry: () => 1_000 });
  const busy = () => new Error('busy');
  const failing = t.throwsAsync(send('x', { failures: [busy(), busy(), busy(), busy()] }), { message: 'busy' });
  for (let i = 0; i < 3; i++) await clock.advance(1_000);
  await failing;
  const retrying = send('y', { lane: 'Y', failures: [busy()] });
  const waiting = send('z', { lane: 'Y' });
  await settle();
  queue.stop();
  await t.throwsAsync(retrying, { message: 'busy' });
  await t.throwsAsync(waiting, { message: /Test adapter stopped/ });
  await t.throwsAsync(send('late'), { message: /Test adapter is stopping/ });
  await queue.idle();
  t.is(queue.pending, 0);
});
