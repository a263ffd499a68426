import test from 'ava';
import { CloudAdapter, type TurnContext } from '@microsoft/agents-hosting';
import { agentRequestHandler } from '../../../src/chat/teams/request-handler.ts';
import { HttpServer } from '../../../src/http/http-server.ts';
import { silentLogger } from '../../../src/ports/logger.ts';

async function setup(t: import('ava').ExecutionContext, options: { maxBodyBytes?: number } = {}) {
  const adapter = new CloudAdapter({ connections: new Map([['ServiceConnection', {}]]), connectionsMap: [{ serviceUrl: '*', connection: 'ServiceConnection' }] });
  const turns: TurnContext['activity'][] = [];
  let accepting = true;
  const http = new HttpServer(silentLogger);
  http.mount(
    'POST',
    '/api/messages',
    agentRequestHandler({
      adapter,
      log: silentLogger,
      logic: async (context) => void turns.push(context.activity),
      accepting: () => accepting,
      refuse: (activity) => (activity.serviceUrl === 'http://refused.invalid/' ? 'refused by the test' : undefined),
      ...options,
    }),
  );
  const address = await http.listen('127.0.0.1', 0);
  t.teardown(() => http.close());
  const url = `http://127.0.0.1:${address.port}/api/messages`;
  const post = async (body: string, type = 'application/json') => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
    return { status: response.status, text: await response.text() };
  };
  return { post, turns, url, stop: () => (accepting = false) };
}

const ACTIVITY = { type: 'message', id: '1', channelId: 'msteams', serviceUrl: 'http://127.0.0.1:9/', from: { id: '29:1a' }, recipient: { id: '28:b' }, conversation: { id: 'a:1' }, text: 'hi' };

test('an activity is authorised (anonymously here) and handed to the turn logic; the answer is 200', async (t) => {
  const s = await setup(t);
  t.is((await s.post(JSON.stringify(ACTIVITY))).status, 200);
  t.is(s.turns.length, 1);
  t.is(s.turns[0]!.text, 'hi');
  // An invoke nobody answered is 501, as the SDK does it.
  t.is((await s.post(JSON.stringify({ ...ACTIVITY, type: 'invoke', name: 'something/else' }))).status, 501);
});

test('bad requests are refused before the SDK sees them', async (t) => {
  const s = await setup(t, { maxBodyBytes: 2_000 });
  t.is((await s.post(JSON.stringify(ACTIVITY), 'text/plain')).status, 415);
  t.is((await s.post('{not json')).status, 400);
  t.is((await s.post('[1,2]')).status, 400);
  t.is((await s.post(JSON.stringify({ ...ACTIVITY, text: 'x'.repeat(5_000) }))).status, 413);
  t.is((await s.post(JSON.stringify({ ...ACTIVITY, conversation: undefined }))).status, 400, 'the SDK’s own check: no conversation');
  const refused = await s.post(JSON.stringify({ ...ACTIVITY, serviceUrl: 'http://refused.invalid/' }));
  t.is(refused.status, 400);
  t.regex(refused.text, /refused by the test/);
  t.is((await fetch(s.url)).status, 405);
  s.stop();
  t.is((await s.post(JSON.stringify(ACTIVITY))).status, 503);
  t.is(s.turns.length, 0);
});
