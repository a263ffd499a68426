/**
 * The outbound proxy: the rules (which variables, NO_PROXY), then each client through a real
 * proxy on 127.0.0.1 (test/helpers/connect-proxy.ts), and past it for NO_PROXY hosts. Host names
 * such as `slack.test` resolve only in the proxy, so a call that succeeds to one went through it.
 */
import test, { type ExecutionContext } from 'ava';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { OutboundProxy, proxyFor, proxySettingsFromEnv } from '../../src/adapters/http-proxy.ts';
import { resolveOpenStack } from '../../src/adapters/openstack/os-config.ts';
import { OpenStackSession } from '../../src/adapters/openstack/os-session.ts';
import { SystemClock } from '../../src/adapters/system-clock.ts';
import { reply } from '../../src/chat/reply.ts';
import { SlackAdapter } from '../../src/chat/slack/slack-adapter.ts';
import { BotConnectorKeys } from '../../src/chat/teams/bot-connector-auth.ts';
import { InMemoryConversationReferenceStore } from '../../src/chat/teams/conversation-store.ts';
import { TEAMS_MESSAGES_PATH, TeamsAdapter } from '../../src/chat/teams/teams-adapter.ts';
import { HttpServer } from '../../src/http/http-server.ts';
import type { Logger } from '../../src/ports/logger.ts';
import { FakeSlack } from '../chat/slack/fake-slack.ts';
import { FakeBotFramework, KID } from '../chat/teams/fake-bot-framework.ts';
import { FakeConnector, personalMessage, postActivity, type TestUser } from '../chat/teams/fake-connector.ts';
import { ConnectProxy } from '../helpers/connect-proxy.ts';
import { FakeOpenStack } from '../helpers/fake-openstack.ts';

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => silent };
const CONTACT = 'the DAaaS team (daaas@facility.example)';
const answer = async () => reply('info', 'Hello');

async function startProxy(t: ExecutionContext): Promise<ConnectProxy> {
  const proxy = await ConnectProxy.start();
  t.teardown(() => proxy.close());
  return proxy;
}

function outbound(t: ExecutionContext, proxy: ConnectProxy, noProxy = ''): OutboundProxy {
  const out = new OutboundProxy({ httpProxy: proxy.url, httpsProxy: proxy.url, noProxy });
  t.teardown(() => out.close());
  return out;
}

test('no proxy variable: no proxy; lower-case forms win; HTTPS_PROXY falls back to HTTP_PROXY', (t) => {
  t.is(proxySettingsFromEnv({}), undefined);
  t.is(proxySettingsFromEnv({ NO_PROXY: 'x' }), undefined);
  t.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', NO_PROXY: 'a', no_proxy: 'b' }), { httpsProxy: 'http://lower:3128', noProxy: 'b' });
  const onlyHttp = proxySettingsFromEnv({ HTTP_PROXY: 'http://p:3128' })!;
  t.is(proxyFor(onlyHttp, 'https://slack.com/api/'), 'http://p:3128');
  t.is(proxyFor(onlyHttp, 'http://cloud.example:5000/v3'), 'http://p:3128');
  const onlyHttps = proxySettingsFromEnv({ HTTPS_PROXY: 'http://p:3128' })!;
  t.is(proxyFor(onlyHttps, 'http://cloud.example:5000/v3'), undefined, 'HTTPS_PROXY is for https URLs only');
  t.throws(() => proxySettingsFromEnv({ HTTPS_PROXY: 'proxy:3128' }), { message: /HTTPS_PROXY must be an http:\/\/ or https:\/\/ URL, such as http:\/\/proxy.example.org:3128, not "proxy:3128"/ });
  t.throws(() => proxySettingsFromEnv({ HTTP_PROXY: 'http://' }), { message: /HTTP_PROXY is not a URL/ });
  t.throws(() => proxySettingsFromEnv({ https_proxy: 'socks5://proxy:1080' }), { message: /HTTPS_PROXY must be an http/ });
});

test('NO_PROXY: a host and its subdomains, a leading dot or *., a port, * for all; as written otherwise', (t) => {
  const settings = { httpsProxy: 'http://p:3128', noProxy: 'cloud.example.org, .internal,*.lab.example:8443 10.0.0.5' };
  t.is(proxyFor(settings, 'https://cloud.example.org:5000/v3'), undefined);
  t.is(proxyFor(settings, 'https://nova.cloud.example.org/'), undefined);
  t.is(proxyFor(settings, 'https://example.org/'), 'http://p:3128');
  t.is(proxyFor(settings, 'https://notcloud.example.org/'), 'http://p:3128');
  t.is(proxyFor(settings, 'https://keystone.internal/'), undefined);
  t.is(proxyFor(settings, 'https://a.lab.example:8443/'), undefined);
  t.is(proxyFor(settings, 'https://a.lab.example/'), 'http://p:3128', 'another port of an exempt host:port');
  t.is(proxyFor(settings, 'https://10.0.0.5:13000/'), undefined);
  t.is(proxyFor(settings, 'https://10.0.0.50/'), 'http://p:3128');
  t.is(proxyFor(settings, 'https://slack.com/api/'), 'http://p:3128');
  t.is(proxyFor({ ...settings, noProxy: '*' }, 'https://slack.com/'), undefined);
});

test('the proxy is described without its credentials', (t) => {
  const out = new OutboundProxy({ httpsProxy: 'http://bot:s3cret@proxy.example:3128', noProxy: 'cloud' });
  t.teardown(() => out.close());
  t.deepEqual(out.describe(), { httpsProxy: 'http://proxy.example:3128', noProxy: 'cloud' });
});

async function slackWith(t: ExecutionContext, out: OutboundProxy, host: string) {
  const fake = await FakeSlack.start();
  const port = Number(new URL(fake.apiUrl).port);
  const slack = new SlackAdapter({
    botToken: 'xoxb-test-token',
    appToken: 'xapp-test-token',
    slackApiUrl: `http://${host}:${port}/api/`,
    dispatch: answer,
    identity: { rule: 'email-local-part', contact: CONTACT },
    clock: new SystemClock(),
    log: silent,
    proxy: out,
  });
  t.teardown(async () => {
    await slack.stop();
    await fake.close();
  });
  return { fake, slack, port };
}

test('Slack: the Web API calls and the Socket Mode WebSocket go through the proxy', async (t) => {
  const proxy = await startProxy(t);
  const { fake, slack, port } = await slackWith(t, outbound(t, proxy), 'slack.test');
  await slack.start();
  t.is(fake.socketConnections, 1);
  t.deepEqual(fake.calls.map((c) => c.method).slice(0, 3), ['auth.test', 'auth.test', 'apps.connections.open']);
  const targets = new Set(proxy.callsTo(port).map((c) => c.target));
  t.true(targets.has(`slack.test:${port}`), 'the Web API, at a name only the proxy resolves');
  // apps.connections.open hands out ws://127.0.0.1:<port>/socket: the WebSocket is tunnelled.
  t.true(proxy.callsTo(port).some((c) => c.kind === 'connect' && c.target === `127.0.0.1:${port}`), 'the Socket Mode WebSocket');
});

test('Slack: NO_PROXY hosts are called directly', async (t) => {
  const proxy = await startProxy(t);
  const { fake, slack } = await slackWith(t, outbound(t, proxy, 'localhost,127.0.0.1'), '127.0.0.1');
  await slack.start();
  t.is(fake.socketConnections, 1);
  t.true(fake.calls.some((c) => c.method === 'auth.test'));
  t.deepEqual(proxy.calls, []);
});

test('Teams: the Bot Framework key set is fetched through the proxy, or directly for NO_PROXY hosts', async (t) => {
  const proxy = await startProxy(t);
  const bf = await FakeBotFramework.start();
  t.teardown(() => bf.close());
  const port = Number(new URL(bf.metadataUrl('x')).port);
  const through = new BotConnectorKeys({ openIdMetadataUrl: bf.metadataUrl('proxied').replace('127.0.0.1', 'login.botframework.test'), clock: new SystemClock(), log: silent, fetch: outbound(t, proxy).fetch });
  const key = await through.get(KID);
  t.not(key, 'unavailable');
  t.not(key, 'unknown');
  // The metadata at a name only the proxy resolves; its jwks_uri names 127.0.0.1.
  t.deepEqual(proxy.callsTo(port).map((c) => c.target), [`login.botframework.test:${port}`, `127.0.0.1:${port}`]);

  const direct = new BotConnectorKeys({ openIdMetadataUrl: bf.metadataUrl('direct'), clock: new SystemClock(), log: silent, fetch: outbound(t, proxy, '127.0.0.1').fetch });
  t.not(await direct.get(KID), 'unavailable');
  t.is(proxy.calls.length, 2);
});

const ALICE: TestUser = { id: '29:1alice', aadObjectId: '6f1e0c1a-0000-4000-8000-0000000a11ce', name: 'Alice Example' };

/** The Agents SDK takes no agent: the process's global fetch is pointed at the proxy, as main.ts does. */
async function teamsThrough(t: ExecutionContext, noProxyFor: (botPort: number, connectorPort: number) => string) {
  const proxy = await startProxy(t);
  const fake = await FakeConnector.start();
  t.teardown(() => fake.close());
  fake.members.set(ALICE.id, { id: ALICE.id, aadObjectId: ALICE.aadObjectId, name: ALICE.name, userPrincipalName: 'alice@facility.example', userRole: 'user' });
  const http = new HttpServer(silent);
  const teams = new TeamsAdapter({
    auth: { mode: 'anonymous' },
    host: '127.0.0.1',
    http,
    dispatch: answer,
    identity: { contact: CONTACT, domains: ['facility.example'] },
    references: new InMemoryConversationReferenceStore(),
    clock: new SystemClock(),
    log: silent,
  });
  const address = await http.listen('127.0.0.1', 0);
  const connectorPort = Number(new URL(fake.serviceUrl).port);
  const before = getGlobalDispatcher();
  const out = new OutboundProxy({ httpProxy: proxy.url, httpsProxy: proxy.url, noProxy: noProxyFor(address.port, connectorPort) });
  out.installGlobal();
  t.teardown(async () => {
    setGlobalDispatcher(before);
    await teams.stop();
    await http.close();
    await out.close();
  });
  await teams.start();
  const posted = await postActivity(`http://127.0.0.1:${address.port}${TEAMS_MESSAGES_PATH}`, personalMessage(fake, ALICE, 'help'));
  t.true(posted.status < 300);
  await fake.waitFor(() => fake.calls.find((c) => c.kind === 'reply' || c.kind === 'send'), 'the answer');
  return { proxy, connectorPort, botPort: address.port };
}

test.serial('Teams: the Agents SDK answers through the proxy (the global fetch), the bot itself exempt by host:port', async (t) => {
  const { proxy, connectorPort, botPort } = await teamsThrough(t, (botPort) => `127.0.0.1:${botPort}`);
  t.true(proxy.callsTo(connectorPort).length > 0, 'the connector call went through the proxy');
  t.deepEqual(proxy.callsTo(botPort), [], 'the activity posted to the bot went directly (NO_PROXY host:port)');
});

test.serial('Teams: a NO_PROXY connector host is called directly', async (t) => {
  const { proxy } = await teamsThrough(t, () => '127.0.0.1');
  t.deepEqual(proxy.calls, []);
});

test.serial('Entra token requests (the Agents SDK\'s MSAL network client) use the global fetch, so the proxy', async (t) => {
  const proxy = await startProxy(t);
  const entra = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token_type: 'Bearer', access_token: 'a', expires_in: 3600 })));
  await new Promise<void>((resolve) => entra.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => entra.close(() => resolve())));
  const port = (entra.address() as AddressInfo).port;
  const before = getGlobalDispatcher();
  const out = new OutboundProxy({ httpsProxy: proxy.url, httpProxy: proxy.url, noProxy: '' });
  out.installGlobal();
  t.teardown(async () => {
    setGlobalDispatcher(before);
    await out.close();
  });
  const require = createRequire(import.meta.url);
  const sdk = dirname(require.resolve('@microsoft/agents-hosting'));
  const { MsalHttpRetryHandlerHelper } = require(join(sdk, 'auth', 'msal', 'msalHttpRetryHandlerHelper.js')) as {
    MsalHttpRetryHandlerHelper: new (client?: unknown, retries?: number) => { sendPostRequestAsync(url: string, options: { headers: Record<string, string>; body: string }): Promise<{ status: number }> };
  };
  const network = new MsalHttpRetryHandlerHelper(undefined, 0);
  const answered = await network.sendPostRequestAsync(`http://login.microsoftonline.test:${port}/tenant/oauth2/v2.0/token`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  t.is(answered.status, 200);
  t.deepEqual(proxy.callsTo(port).map((c) => c.target), [`login.microsoftonline.test:${port}`]);
});

test('OpenStack: Keystone and the catalog endpoints through the proxy; NO_PROXY exempts the cloud', async (t) => {
  const proxy = await startProxy(t);
  const cloud = await new FakeOpenStack().start();
  t.teardown(() => cloud.stop());
  const port = Number(new URL(cloud.url!).port);
  const through = outbound(t, proxy);
  const session = new OpenStackSession({
    settings: resolveOpenStack(cloud.env({ OS_AUTH_URL: `http://keystone.test:${port}/identity/v3` })),
    clock: new SystemClock(),
    log: silent,
    timeoutMs: 5_000,
    agentsFor: (url) => through.nodeAgentsFor(url),
  });
  const { status } = await session.request('compute', '/flavors/detail', { operation: 'list flavors' });
  t.is(status, 200);
  const targets = proxy.callsTo(port).map((c) => `${c.kind} ${c.target}`);
  t.true(targets.includes(`forward keystone.test:${port}`), targets.join(', '));
  t.true(targets.includes(`forward 127.0.0.1:${port}`), 'the compute endpoint from the catalog');
  const calls = proxy.calls.length;

  const exempt = outbound(t, proxy, '127.0.0.1');
  const direct = new OpenStackSession({ settings: resolveOpenStack(cloud.env()), clock: new SystemClock(), log: silent, timeoutMs: 5_000, agentsFor: (url) => exempt.nodeAgentsFor(url) });
  t.is((await direct.request('compute', '/flavors/detail', { operation: 'list flavors' })).status, 200);
  t.is(proxy.calls.length, calls);
});
