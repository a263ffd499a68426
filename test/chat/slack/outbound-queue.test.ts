import test from 'ava';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { SlackOutboundQueue, slackErrorCode, slackRetryAfterMs, type RateLimit } from '../../../src/chat/slack/outbound-queue.ts';
import { silentLogger } from '../../../src/ports/logger.ts';

/** What the Web API client throws for a 429 when rejectRateLimitedCalls is on. */
const rateLimited = (seconds: number) => Object.assign(new Error('rate limited'), { code: 'slack_webapi_rate_limited_error', retryAfter: seconds });
const platformError = (error: string) => Object.assign(new Error(error), { code: 'slack_webapi_platform_error', data: { ok: false, error } });

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function setup(limits: Record<string, RateLimit | null> = {}, extra: { maxAttempts?: number; concurrency?: number } = {}) {
  const clock = new ManualClock();
  const t0 = clock.now();
  const queue = new SlackOutboundQueue({ clock, log: silentLogger, retryAfterMs: slackRetryAfterMs, limits, ...extra });
  const sent: { what: string; at: number }[] = [];
  const send = (method: string, what: string, channel?: string, failures: unknown[] = [], urgent = false) =>
    queue.push({
      method,
      urgent,
      ...(channel ? { channel } : {}),
      run: async () => {
        const failure = failures.shift();
        if (failure) throw failure;
        sent.push({ what, at: clock.now() - t0 });
        return what;
      },
    });
  return { clock, queue, sent, send };
}

test('messages to one channel go about a second apart, in order; other channels do not wait', async (t) => {
  const { clock, sent, send } = setup({ 'chat.postMessage': { perMinute: 600, burst: 10, perChannelMs: 1_000 } });
  const all = Promise.all([send('chat.postMessage', 'a1', 'A'), send('chat.postMessage', 'a2', 'A'), send('chat.postMessage', 'b1', 'B'), send('chat.postMessage', 'a3', 'A')]);
  await settle();
  t.deepEqual(sent, [{ what: 'a1', at: 0 }, { what: 'b1', at: 0 }]);
  for (let i = 0; i < 3; i++) await clock.advance(1_000);
  t.deepEqual(await all, ['a1', 'a2', 'b1', 'a3']);
  t.deepEqual(sent, [{ what: 'a1', at: 0 }, { what: 'b1', at: 0 }, { what: 'a2', at: 1_000 }, { what: 'a3', at: 2_000 }]);
});

test('the workspace-wide rate: a burst, then the sustained rate', async (t) => {
  const { clock, sent, send } = setup({ 'chat.postMessage': { perMinute: 60, burst: 2, perChannelMs: 1_000 } });
  const all = Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((u) => send('chat.postMessage', u, u)));
  await settle();
  t.is(sent.length, 2);
  for (let i = 0; i < 3; i++) await clock.advance(1_000);
  await all;
  t.deepEqual(sent.map((s) => s.at), [0, 0, 1_000, 2_000, 3_000]);
});

test('a 429 pauses that method for Retry-After, then the same call is sent again, once', async (t) => {
  const { clock, sent, send } = setup();
  const first = send('chat.postMessage', 'm1', 'A', [rateLimited(3)]);
  await settle();
  const second = send('chat.postMessage', 'm2', 'B');
  const other = send('views.publish', 'home', undefined);
  await settle();
  t.deepEqual(sent, [{ what: 'home', at: 0 }], 'another method is not paused; the rate-limited one is');
  await clock.advance(2_999);
  t.is(sent.length, 1);
  await clock.advance(1);
  t.deepEqual(await Promise.all([first, second, other]), ['m1', 'm2', 'home']);
  t.deepEqual(sent, [{ what: 'home', at: 0 }, { what: 'm1', at: 3_000 }, { what: 'm2', at: 3_000 }]);
});

test('other failures go back to the caller at once and are not retried (no duplicates)', async (t) => {
  const { sent, send } = setup();
  let calls = 0;
  const failures = [platformError('messages_tab_disabled')];
  const error = await t.throwsAsync(send('chat.postMessage', 'x', 'A', failures).finally(() => calls++));
  t.is(slackErrorCode(error), 'messages_tab_disabled');
  t.is(calls, 1);
  t.deepEqual(sent, []);
  t.is(slackRetryAfterMs(error), undefined);
  t.is(slackRetryAfterMs(platformError('ratelimited')), 1_000);
  t.is(slackRetryAfterMs(Object.assign(new Error('x'), { code: 'slack_bolt_respond_error', statusCode: 429 })), 1_000);
});

test('a call that keeps being rate-limited is given up after maxAttempts', async (t) => {
  const { clock, send } = setup({}, { maxAttempts: 3 });
  const result = send('chat.postMessage', 'x', 'A', [rateLimited(1), rateLimited(1), rateLimited(1), rateLimited(1)]);
  const outcome = t.throwsAsync(result);
  for (let i = 0; i < 5; i++) await clock.advance(1_000);
  t.is(((await outcome) as { code?: string }).code, 'slack_webapi_rate_limited_error');
});

test('answers to someone waiting go before queued reminders', async (t) => {
  const { clock, sent, send } = setup({ 'chat.postMessage': { perMinute: 60, burst: 1 }, response_url: { perMinute: 60, burst: 1 } }, { concurrency: 1 });
  const reminders = ['r1', 'r2', 'r3'].map((r) => send('chat.postMessage', r, r));
  await settle();
  const answer = send('chat.postMessage', 'answer', 'C', [], true);
  for (let i = 0; i < 3; i++) await clock.advance(1_000);
  await Promise.all([...reminders, answer]);
  t.deepEqual(sent.map((s) => s.what), ['r1', 'answer', 'r2', 'r3']);
});

test('a fan-out of many reminders with 429s on the way: every one delivered exactly once', async (t) => {
  const { clock, queue, sent, send } = setup({ 'chat.postMessage': { perMinute: 600, burst: 20, perChannelMs: 1_000 } });
  const users = Array.from({ length: 300 }, (_, i) => `U${i}`);
  // Every 37th call is answered 429 with Retry-After 2 s.
  let call = 0;
  const results = users.map((u) =>
    queue.push({
      method: 'chat.postMessage',
      channel: u,
      run: async () => {
        if (++call % 37 === 0) throw rateLimited(2);
        sent.push({ what: u, at: clock.now() });
        return u;
      },
    }),
  );
  void send;
  while (queue.pending > 0) await clock.advance(500);
  t.deepEqual(await Promise.all(results), users);
  t.is(sent.length, users.length);
  t.is(new Set(sent.map((s) => s.what)).size, users.length);
  t.true(call > users.length, 'some calls were rate-limited and sent again');
});

test('stop fails what is still waiting, and refuses more', async (t) => {
  const { queue, send } = setup({ 'chat.postMessage': { perMinute: 60, burst: 1, perChannelMs: 1_000 } });
  const first = send('chat.postMessage', 'a', 'A');
  const waiting = send('chat.postMessage', 'b', 'A');
  await settle();
  queue.stop();
  t.is(await first, 'a');
  await t.throwsAsync(waiting, { message: /stopped/ });
  await t.throwsAsync(send('chat.postMessage', 'c', 'B'), { message: /stopping/ });
  await queue.idle();
});
