/**
 * The bot as a process with Slack configured from the standard variables, against a fake Slack
 * Web API: HTTP mode on the bot's one server, requests signed as Slack signs them.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeSlack, postSigned, slashCommandBody } from '../chat/slack/fake-slack.ts';
import { ConnectProxy } from '../helpers/connect-proxy.ts';
import { FakeOpenStack } from '../helpers/fake-openstack.ts';
import { startBot, until } from '../helpers/bot-process.ts';
import { tempDir } from '../helpers/harness.ts';

const SECRET = 'e2e-signing-secret';
const CONFIG = `
access: { groups: { physics: [alice] } }
scheduler: { poll: 100ms }
cloud: { driver: simulated, simulated: { bootTime: 200ms, latency: 0, flavors: { m1.large: { vcpus: 4 } }, images: [physics-base] } }
provisioner: { driver: simulated, simulated: { provisionTime: 200ms, personaliseTime: 200ms } }
slack: { identity: { domains: [facility.example], contact: the DAaaS team (daaas@facility.example) } }
pools:
  physics: { image: physics-base, flavor: m1.large, size: 1, max: 2, groups: [physics], owner: { name: P, contact: p@facility.example } }
`;

const bot = (t: { teardown: (fn: () => void) => void }, env: Record<string, string>) => startBot(t, env, []);

test('SLACK_BOT_TOKEN alone starts Slack without the terminal chat; a signed /daaas claim is acked and answered at the response_url', async (t) => {
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  fake.users.set('UALICE', { email: 'alice@facility.example' });
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const b = bot(t, { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), SLACK_BOT_TOKEN: 'xoxb-e2e', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl });
  await until('listening', () => /"msg":"listening"/.test(b.stdout()));
  t.regex(b.stdout(), /"mode":"http","command":"\/daaas","msg":"Slack enabled"/);
  t.false(b.stdout().includes('alice>'), 'no terminal chat');
  const port = Number(/"port":(\d+)/.exec(b.stdout())?.[1]);
  await until('the pool full', () => /"msg":"ready"/.test(b.stdout()));

  const body = slashCommandBody({ user: 'UALICE', text: 'claim physics', responseUrl: fake.responseUrl('claim') });
  const ack = await postSigned(`http://127.0.0.1:${port}/slack/events`, body, { secret: SECRET, timestampSec: Math.floor(Date.now() / 1000) });
  t.is(ack.status, 200);
  await until('the answer at the response_url', () => fake.responses.length > 0);
  t.regex(JSON.stringify(fake.responses[0]), /physics-\w{4} is yours for 2d/);
  t.regex(JSON.stringify(fake.responses[0]), /ephemeral/);
  await until('the home-ready direct message', () => fake.calls.some((c) => c.method === 'chat.postMessage' && JSON.stringify(c).includes('is ready for you')));

  const forged = await postSigned(`http://127.0.0.1:${port}/slack/events`, body, { secret: 'wrong', timestampSec: Math.floor(Date.now() / 1000) });
  t.is(forged.status, 401);
  b.child.kill('SIGTERM');
  t.is(await b.exit, 0);
  t.false(b.stdout().includes(SECRET) || b.stdout().includes('xoxb-e2e'), 'no secret in the logs');
});

test('Slack in HTTP mode without a signing secret, or with a refused token: start-up stops saying why', async (t) => {
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const base = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), SLACK_API_URL: fake.apiUrl };
  const noSecret = bot(t, { ...base, SLACK_BOT_TOKEN: 'xoxb-e2e', SLACK_SIGNING_SECRET: '' });
  t.is(await noSecret.exit, 1);
  t.regex(noSecret.stderr(), /The bot did not start: Slack in HTTP mode needs a signing secret \(SLACK_SIGNING_SECRET\)/);
  fake.answerNext('auth.test', { error: 'invalid_auth' });
  const refused = bot(t, { ...base, SLACK_BOT_TOKEN: 'xoxb-revoked', SLACK_SIGNING_SECRET: SECRET });
  t.is(await refused.exit, 1);
  t.regex(refused.stderr(), /The bot did not start: Slack did not accept the bot token \(SLACK_BOT_TOKEN\): invalid_auth/);
});

test('behind HTTPS_PROXY/HTTP_PROXY, Slack (Web API and Socket Mode) is reached through the proxy; a proxy that is not a URL stops start-up', async (t) => {
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  const proxy = await ConnectProxy.start();
  t.teardown(() => proxy.close());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const port = Number(new URL(fake.apiUrl).port);
  const base = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), SLACK_BOT_TOKEN: 'xoxb-e2e', SLACK_APP_TOKEN: 'xapp-e2e', SLACK_API_URL: `http://slack.test:${port}/api/` };
  const noProxy = /^(https?_proxy|no_proxy)$/i;
  const b = startBot(t, { ...base, HTTPS_PROXY: proxy.url, http_proxy: proxy.url, NO_PROXY: 'cloud.example' }, [], noProxy);
  await until('Slack connected', () => /"msg":"Slack adapter listening"/.test(b.stdout()));
  t.regex(b.stdout(), /"noProxy":"cloud.example","msg":"outbound calls go through the proxy, except to NO_PROXY hosts"/);
  t.true(proxy.callsTo(port).some((c) => c.target === `slack.test:${port}`), 'the Web API, at a name only the proxy resolves');
  t.true(proxy.callsTo(port).some((c) => c.kind === 'connect' && c.target === `127.0.0.1:${port}`), 'the Socket Mode WebSocket');
  t.is(fake.socketConnections, 1);
  b.child.kill('SIGTERM');
  t.is(await b.exit, 0);

  const refused = startBot(t, { ...base, HTTPS_PROXY: 'proxy.example:3128' }, [], noProxy);
  t.is(await refused.exit, 1);
  t.regex(refused.stderr(), /The bot did not start: HTTPS_PROXY must be an http:\/\/ or https:\/\/ URL/);
});

test('behind HTTP_PROXY, OpenStack is reached through the proxy, and directly when NO_PROXY names the cloud', async (t) => {
  const cloud = await new FakeOpenStack().start();
  t.teardown(() => cloud.stop());
  cloud.publishImage('physics-base');
  const proxy = await ConnectProxy.start();
  t.teardown(() => proxy.close());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(
    join(dir.path, 'c.yaml'),
    CONFIG.replace(/^cloud: .*$/m, 'cloud: { driver: openstack }').replace('size: 1, max: 2', 'size: 0, max: 2').replace('flavor: m1.large', 'flavor: m1.small'),
  );
  const port = Number(new URL(cloud.url).port);
  const noProxy = /^(https?_proxy|no_proxy|OS_.*)$/i;
  const base = { ...cloud.env(), DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var') };
  const through = startBot(t, { ...base, OS_AUTH_URL: `http://keystone.test:${port}/identity/v3`, HTTP_PROXY: proxy.url }, ['--no-shell'], noProxy);
  await until('a look at the cloud', () => proxy.callsTo(port).some((c) => c.target === `127.0.0.1:${port}`));
  t.true(proxy.callsTo(port).some((c) => c.target === `keystone.test:${port}`), 'Keystone, at a name only the proxy resolves');
  through.child.kill('SIGTERM');
  t.is(await through.exit, 0, through.stderr());

  const calls = proxy.calls.length;
  const requests = cloud.requests.length;
  const direct = startBot(t, { ...base, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, ['--no-shell'], noProxy);
  // The first tick asks Keystone, then lists the servers; the next tick may be a minute away.
  await until('a look at the cloud', () => cloud.requests.slice(requests).some((r) => r.url.startsWith('/compute/')));
  direct.child.kill('SIGTERM');
  t.is(await direct.exit, 0, direct.stderr());
  t.is(proxy.calls.length, calls, 'nothing through the proxy');
});
