/**
 * The HTTP receiver on the bot's server, with the real Bolt app behind it: what happens before
 * any listener runs (Slack's handshakes, malformed and oversized requests, not yet started).
 */
import test from 'ava';
import { App } from '@slack/bolt';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { SlackHttpReceiver } from '../../../src/chat/slack/slack-receiver.ts';
import { HttpServer } from '../../../src/http/http-server.ts';
import { silentLogger } from '../../../src/ports/logger.ts';
import { eventBody, postSigned } from './fake-slack.ts';

const SECRET = 'receiver-test-secret';

const quietBolt = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => 'error' as never,
  setName() {},
};

async function setup(t: import('ava').ExecutionContext, start = true) {
  const clock = new ManualClock();
  const receiver = new SlackHttpReceiver({ signingSecret: SECRET, clock, log: silentLogger, boltLogger: quietBolt, maxBodyBytes: 10_000 });
  // Known bot ids: no auth.test, so no Web API is needed here.
  const app = new App({ token: 'xoxb-test', botId: 'B1', botUserId: 'UBOT', receiver, logger: quietBolt, convoStore: false });
  const seen: string[] = [];
  app.event('app_home_opened', async ({ event }) => void seen.push(event.user));
  const http = new HttpServer(silentLogger);
  http.mount('POST', '/slack/events', receiver.handler);
  const address = await http.listen('127.0.0.1', 0);
  if (start) await app.start();
  t.teardown(() => http.close());
  const url = `http://127.0.0.1:${address.port}/slack/events`;
  const now = () => Math.floor(clock.now() / 1000);
  return { url, now, seen, app };
}

test('url_verification is answered with the challenge (signed), and ssl_check with a bare 200', async (t) => {
  const s = await setup(t);
  const body = JSON.stringify({ token: 'x', challenge: 'c-123', type: 'url_verification' });
  const res = await postSigned(s.url, body, { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' });
  t.is(res.status, 200);
  t.deepEqual(JSON.parse(res.text), { challenge: 'c-123' });
  t.is((await postSigned(s.url, body, { secret: 'wrong', timestampSec: s.now(), contentType: 'application/json' })).status, 401);
  const ssl = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'ssl_check=1&token=x' });
  t.is(ssl.status, 200);
});

test('events reach Bolt listeners; events nobody listens to still get their 200', async (t) => {
  const s = await setup(t);
  const opened = await postSigned(s.url, eventBody({ type: 'app_home_opened', user: 'U1', tab: 'home' }, 'Ev1', s.now()), { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' });
  t.is(opened.status, 200);
  t.deepEqual(s.seen, ['U1']);
  const other = await postSigned(s.url, eventBody({ type: 'team_join', user: { id: 'U2' } }, 'Ev2', s.now()), { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' });
  t.is(other.status, 200);
  t.true(other.ms < 2_000, 'not left to Bolt’s 3-second no-ack timeout');
});

test('malformed, oversized and early requests are refused', async (t) => {
  const s = await setup(t);
  t.is((await postSigned(s.url, '{not json', { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' })).status, 400);
  t.is((await postSigned(s.url, 'payload=%7Bbroken', { secret: SECRET, timestampSec: s.now() })).status, 400);
  t.is((await postSigned(s.url, JSON.stringify({ pad: 'x'.repeat(20_000) }), { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' })).status, 413);
  t.is((await postSigned(s.url, '{}', { secret: SECRET, timestampSec: Number.NaN })).status, 401);

  const early = await setup(t, false);
  t.is((await postSigned(early.url, eventBody({ type: 'app_home_opened', user: 'U1', tab: 'home' }, 'Ev1', early.now()), { secret: SECRET, timestampSec: early.now(), contentType: 'application/json' })).status, 503);
  t.deepEqual(early.seen, []);
});
