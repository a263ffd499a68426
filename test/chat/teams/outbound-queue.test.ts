import test from 'ava';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { connectorErrorCode, connectorStatus, retryAfterMs, TeamsOutboundQueue, type TeamsLimits } from '../../../src/chat/teams/outbound-queue.ts';
import type { Logger } from '../../../src/ports/logger.ts';

/** What the Agents SDK's HttpClient throws for a failed connector call. */
function httpError(status: number, headers: Record<string, string> = {}, code?: string): Error {
  return Object.assign(new Error(`Request failed with status ${status}`), {
    name: 'HttpError',
    status,
    response: { status, headers: new Headers(headers), data: code ? { error: { code, message: 'x' } } : {} },
  });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const WIDE: TeamsLimits = { perConversation: [{ limit: 100, ms: 1_000 }], perTenant: [{ limit: 100, ms: 1_000 }] };

function setup(options: { limits?: TeamsLimits; maxAttempts?: number; random?: () => number; concurrency?: number } = {}) {
  const clock = new ManualClock();
  const t0 = clock.now();
  const logs: { level: string; message?: string; fields: object }[] = [];
  const log: Logger = {
    debug: () => {},
    info: (fields, message) => void logs.push({ level: 'info', fields, ...(message ? { message } : {}) }),
    warn: (fields, message) => void logs.push({ level: 'warn', fields, ...(message ? { message } : {}) }),
    error: () => {},
    child: () => log,
  };
  const queue = new TeamsOutboundQueue({
    clock,
    log,
    limits: options.limits ?? WIDE,
    backoff: { initialMs: 100, maxMs: 1_000 },
    random: options.random ?? (() => 0),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  const sent: { what: string; at: number }[] = [];
  const attempts = new Map<string, number[]>();
  const send = (what: string, conversation: string | undefined, failures: unknown[] = [], extra: { tenant?: string; urgent?: boolean } = {}) =>
    queue.push({
      kind: 'test',
      tenant: extra.tenant ?? 'tenant-1',
      ...(conversation !== undefined ? { conversation } : {}),
      ...(extra.urgent ? { urgent: true } : {}),
      run: async () => {
        attempts.set(what, [...(attempts.get(what) ?? []), clock.now() - t0]);
        const failure = failures.shift();
        if (failure) throw failure;
        sent.push({ what, at: clock.now() - t0 });
        return what;
      },
    });
  return { clock, queue, sent, send, attempts, logs };
}

test('one conversation gets at most its rate, in order; other conversations do not wait', async (t) => {
  const { clock, sent, send } = setup({ limits: { perConversation: [{ limit: 2, ms: 1_000 }], perTenant: [{ limit: 100, ms: 1_000 }] } });
  const all = Promise.all([send('a1', 'A'), send('a2', 'A'), send('a3', 'A'), send('b1', 'B'), send('a4', 'A')]);
  await settle();
  t.deepEqual(sent.map((s) => s.what), ['a1', 'b1', 'a2']);
  await clock.advance(1_000);
  await clock.advance(1_000);
  t.deepEqual(await all, ['a1', 'a2', 'a3', 'b1', 'a4']);
  t.deepEqual(sent.filter((s) => s.what.startsWith('a')), [{ what: 'a1', at: 0 }, { what: 'a2', at: 0 }, { what: 'a3', at: 1_000 }, { what: 'a4', at: 1_000 }]);
});

test('the tenant’s rate holds across conversations; another tenant is not held up', async (t) => {
  const { clock, sent, send } = setup({ limits: { perConversation: [{ limit: 100, ms: 1_000 }], perTenant: [{ limit: 3, ms: 1_000 }] } });
  const all = Promise.all(['c1', 'c2', 'c3', 'c4', 'c5'].map((c) => send(c, c)).concat(send('other', 'x', [], { tenant: 'tenant-2' })));
  await settle();
  t.deepEqual(sent.map((s) => s.what).sort(), ['c1', 'c2', 'c3', 'other']);
  await clock.advance(1_000);
  await all;
  t.deepEqual(sent.filter((s) => s.what.startsWith('c')).map((s) => s.at), [0, 0, 0, 1_000, 1_000]);
});

test('429 waits for Retry-After, then the call is sent again and delivered once', async (t) => {
  const { clock, attempts, send, logs } = setup();
  const done = send('m1', 'A', [httpError(429, { 'retry-after': '3' })]);
  await settle();
  t.deepEqual(attempts.get('m1'), [0]);
  await clock.advance(2_999);
  t.deepEqual(attempts.get('m1'), [0]);
  await clock.advance(1);
  t.is(await done, 'm1');
  t.deepEqual(attempts.get('m1'), [0, 3_000]);
  t.true(logs.some((l) => l.level === 'info' && /slow down/.test(l.message ?? '')));
});

test('412, 502 and 504 back off exponentially with jitter; other failures are not retried', async (t) => {
  const { clock, attempts, send } = setup({ random: () => 1 });
  const done = send('m1', 'A', [httpError(502), httpError(504), httpError(412)]);
  await settle();
  for (let i = 0; i < 10; i++) await clock.advance(100);
  t.is(await done, 'm1');
  // random() = 1: the full step each time, doubling from 100 ms.
  t.deepEqual(attempts.get('m1'), [0, 100, 300, 700]);

  await t.throwsAsync(send('gone', 'B', [httpError(403, {}, 'MessageWritesBlocked')]), { message: /403/ });
  t.is(attempts.get('gone')?.length, 1);
  await t.throwsAsync(send('bad', 'C', [httpError(400)]));
  await t.throwsAsync(send('boom', 'D', [new Error('socket hang up')]));
  t.deepEqual([attempts.get('bad')?.length, attempts.get('boom')?.length], [1, 1]);
});

test('a call that keeps failing is given up after maxAttempts; a Retry-After too long is not waited for', async (t) => {
  const { clock, attempts, send, logs } = setup({ maxAttempts: 3 });
  const done = send('m1', 'A', [httpError(504), httpError(504), httpError(504), httpError(504)]);
  const failed = t.throwsAsync(done, { message: /504/ });
  for (let i = 0; i < 10; i++) await clock.advance(200);
  await failed;
  t.is(attempts.get('m1')?.length, 3);
  t.true(logs.some((l) => l.level === 'warn' && /giving up/.test(l.message ?? '')));

  await t.throwsAsync(send('m2', 'B', [httpError(429, { 'retry-after': '3600' })]), { message: /429/ });
  t.is(attempts.get('m2')?.length, 1);
});

test('an answer to a waiting user goes before reminders queued for the same conversation', async (t) => {
  const { clock, sent, send } = setup({ limits: { perConversation: [{ limit: 1, ms: 1_000 }], perTenant: [{ limit: 100, ms: 1_000 }] } });
  const all = Promise.all([send('reminder-1', 'A'), send('reminder-2', 'A'), send('answer', 'A', [], { urgent: true })]);
  await settle();
  await clock.advance(1_000);
  await clock.advance(1_000);
  await all;
  t.deepEqual(sent.map((s) => s.what), ['reminder-1', 'answer', 'reminder-2']);
});

test('stop fails what waits, including a call pausing before a retry, and refuses new calls', async (t) => {
  const { queue, send } = setup({ limits: { perConversation: [{ limit: 1, ms: 1_000 }], perTenant: [{ limit: 100, ms: 1_000 }] } });
  const retrying = send('r', 'R', [httpError(429, { 'retry-after': '30' })]);
  const first = send('a1', 'A');
  const waiting = send('a2', 'A');
  await settle();
  t.is(await first, 'a1');
  queue.stop();
  await t.throwsAsync(waiting, { message: /stopped/ });
  await t.throwsAsync(retrying, { message: /429/ });
  await t.throwsAsync(send('late', 'A'), { message: /stopping/ });
  await queue.idle();
  t.is(queue.pending, 0);
});

test('connector error details are read from the SDK’s HttpError', (t) => {
  const error = httpError(403, { 'retry-after': '7' }, 'MessageWritesBlocked');
  t.is(connectorStatus(error), 403);
  t.is(connectorErrorCode(error), 'MessageWritesBlocked');
  t.is(retryAfterMs(error, 0), 7_000);
  const now = Date.UTC(2026, 0, 5, 9, 0, 0);
  t.is(retryAfterMs(httpError(429, { 'retry-after': 'Mon, 05 Jan 2026 09:00:10 GMT' }), now), 10_000);
  t.is(retryAfterMs(httpError(429), now), undefined);
  t.is(connectorStatus(new Error('plain')), undefined);
  t.is(connectorErrorCode('nope'), undefined);
});
