/**
 * Who may call the Teams endpoint in production, tried the way an attacker would: tokens signed
 * with the test's own RSA key, which a local key server on 127.0.0.1 publishes as the Bot
 * Framework's key set (and which the Agents SDK's own key look-ups are made to find too), posted
 * as Teams activities to the real adapter on the bot's real HTTP server, answering through a fake
 * Bot Connector on 127.0.0.1. Only a Bot Connector token for this bot, naming the activity's
 * service, gets in; everything else is 401 before any look-up, outbound call or stored state.
 */
import test, { type ExecutionContext } from 'ava';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import type { Invocation } from '../../../src/chat/invocation.ts';
import { BotConnectorAuth, BotConnectorKeys } from '../../../src/chat/teams/bot-connector-auth.ts';
import { InMemoryConversationReferenceStore } from '../../../src/chat/teams/conversation-store.ts';
import { ServiceUrlPolicy } from '../../../src/chat/teams/service-urls.ts';
import { TEAMS_MESSAGES_PATH, TeamsAdapter, type TeamsAdapterOptions } from '../../../src/chat/teams/teams-adapter.ts';
import { HttpServer } from '../../../src/http/http-server.ts';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { silentLogger } from '../../../src/ports/logger.ts';
import { filledHarness } from '../../helpers/replies.ts';
import { BOT_FRAMEWORK_ISSUER, FakeBotFramework, fakeEntra, KID, madeUpKids } from './fake-bot-framework.ts';
import { FakeConnector, personalMessage, postActivity, TENANT, type TestUser } from './fake-connector.ts';

const APP = '0b5e7a1c-0000-4000-8000-00000000b07a';
/** Another app registration in the bot's tenant: what a same-tenant attacker holds. */
const ATTACKER_APP = '5ee1a7c0-0000-4000-8000-0000000bad00';
const ALICE: TestUser = { id: '29:1alice', aadObjectId: '6f1e0c1a-0000-4000-8000-0000000a11ce', name: 'Alice Example' };
const ROOT: TestUser = { id: '29:1root', aadObjectId: '6f1e0c1a-0000-4000-8000-00000000r007', name: 'Root' };

let bf: FakeBotFramework;
let tags = 0;

test.before(async () => {
  bf = await FakeBotFramework.start();
  bf.trustInSdk(TENANT);
});
test.after.always(() => bf?.close());

async function production(t: ExecutionContext, extra: Partial<TeamsAdapterOptions> = {}) {
  const h = await filledHarness(t);
  const fake = await FakeConnector.start();
  t.teardown(() => fake.close());
  fake.members.set(ALICE.id, { id: ALICE.id, aadObjectId: ALICE.aadObjectId, name: ALICE.name, userPrincipalName: 'alice@facility.example', userRole: 'user', tenantId: TENANT });
  // What the attacker's own "connector" would answer: a UPN that maps to an admin.
  fake.members.set(ROOT.id, { id: ROOT.id, aadObjectId: ROOT.aadObjectId, name: ROOT.name, userPrincipalName: 'root@facility.example', userRole: 'user' });
  const store = new InMemoryConversationReferenceStore();
  const http = new HttpServer(silentLogger);
  const tag = `t${++tags}`;
  const dispatched: Invocation[] = [];
  const teams = new TeamsAdapter({
    auth: { mode: 'production', clientId: APP, clientSecret: 'not-a-real-secret', tenantId: TENANT, source: 'test' },
    host: '127.0.0.1',
    http,
    dispatch: async (inv) => (dispatched.push(inv), h.app.dispatch(inv)),
    identity: { contact: 'the DAaaS team', domains: ['facility.example'] },
    references: store,
    clock: h.clock,
    log: silentLogger,
    // The fake connector stands in for Teams' service on this machine.
    serviceUrls: ['127.0.0.1'],
    openIdMetadataUrl: bf.metadataUrl(tag),
    outbound: { clock: new SystemClock(), limits: { perConversation: [{ limit: 50, ms: 1_000 }], perTenant: [{ limit: 100, ms: 1_000 }] }, backoff: { initialMs: 10, maxMs: 50 } },
    ...extra,
  });
  const entra = fakeEntra(teams.adapter);
  h.app.notifier.register('teams', teams);
  const address = await http.listen('127.0.0.1', 0);
  await teams.start();
  t.teardown(async () => {
    await teams.stop();
    await http.close();
  });
  const url = `http://127.0.0.1:${address.port}${TEAMS_MESSAGES_PATH}`;
  const nowSeconds = Math.floor(h.clock.now() / 1000);
  return {
    h,
    fake,
    store,
    teams,
    dispatched,
    entra,
    fetches: () => bf.countsOf(tag),
    /** A genuine Bot Connector token for this bot and the fake connector, with `over` changed. */
    claims: (over: Record<string, unknown> = {}) => ({ iss: BOT_FRAMEWORK_ISSUER, aud: APP, serviceurl: fake.serviceUrl, nbf: nowSeconds - 60, exp: nowSeconds + 400 * 86_400, ...over }),
    post: (activity: unknown, token: string) => postActivity(url, activity, { authorization: `Bearer ${token}` }),
  };
}

/** Every key-set and metadata fetch so far, by the bot and by the SDK's own key clients. */
const allFetches = (own: { metadata: number; keys: number }) => own.metadata + own.keys + bf.countsOf('sdk').metadata + bf.countsOf('sdk').keys;

test.serial('a Bot Connector token for this bot, naming the activity’s service, is answered; the key set is fetched once', async (t) => {
  const s = await production(t);
  const { status } = await s.post(personalMessage(s.fake, ALICE, 'claim physics'), bf.token(s.claims()));
  t.is(status, 200);
  const answer = await s.fake.waitFor(() => s.fake.delivered()[0], 'the answer');
  t.is(answer.authorization, 'Bearer bot-connector-token-for-the-bot', 'the bot’s own token goes to the connector');
  t.is(s.h.store.activeLeases({ user: 'alice' }).length, 1);
  t.like(s.store.get(ALICE.aadObjectId), { account: 'alice', reference: { serviceUrl: s.fake.serviceUrl } });

  await s.post(personalMessage(s.fake, ALICE, 'status'), bf.token(s.claims()));
  await s.fake.waitFor(() => s.fake.delivered()[1], 'the second answer');
  t.deepEqual(s.fetches(), { metadata: 1, keys: 1 }, 'the keys are cached');
});

const refusals: [string, (claims: Record<string, unknown>, s: { fake: FakeConnector }) => { claims?: Record<string, unknown>; token?: string }][] = [
  // What any principal of the tenant can get from Entra for the bot's app id: passes the SDK's own check.
  ['an Entra token (sts.windows.net) without serviceurl', (c) => ({ claims: { ...c, iss: `https://sts.windows.net/${TENANT}/`, tid: TENANT, appid: ATTACKER_APP, azp: ATTACKER_APP, serviceurl: undefined } })],
  ['an Entra token (v2.0) with a serviceurl', (c) => ({ claims: { ...c, iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, tid: TENANT, azp: ATTACKER_APP } })],
  ['a Bot Framework token without serviceurl', (c) => ({ claims: { ...c, serviceurl: undefined } })],
  ['a Bot Framework token for another service', (c) => ({ claims: { ...c, serviceurl: 'https://smba.trafficmanager.net/emea/' } })],
  ['a token for the Bot Framework rather than this bot', (c) => ({ claims: { ...c, aud: 'https://api.botframework.com' } })],
  ['a token for another bot', (c) => ({ claims: { ...c, aud: ATTACKER_APP } })],
  ['an expired token', (c) => ({ claims: { ...c, exp: (c.nbf as number) - 3_600 } })],
  ['a token not valid yet', (c) => ({ claims: { ...c, nbf: (c.exp as number) } })],
  ['an unsigned token (alg none)', (c) => ({ token: `${Buffer.from(JSON.stringify({ alg: 'none', kid: KID })).toString('base64url')}.${Buffer.from(JSON.stringify(c)).toString('base64url')}.` })],
  ['a token whose claims were changed after signing', (c) => {
    const [head, , signature] = bf.token(c).split('.');
    return { token: `${head}.${Buffer.from(JSON.stringify({ ...c, aud: APP, note: 'changed' })).toString('base64url')}.${signature}` };
  }],
];

for (const [what, forge] of refusals) {
  test.serial(`refused with 401, nothing looked up, sent or stored: ${what}`, async (t) => {
    const s = await production(t);
    const forged = forge(s.claims(), s);
    const token = forged.token ?? bf.token(forged.claims!);
    const before = allFetches(s.fetches());
    // The activity names the fake connector as its service, and a user whose UPN maps to an admin.
    const { status } = await s.post(personalMessage(s.fake, ROOT, 'claim physics'), token);
    t.is(status, 401);
    await s.teams.idle();
    t.is(s.fake.calls.length, 0, 'no member look-up, no reply');
    t.is(s.store.size, 0, 'no conversation reference stored');
    t.deepEqual(s.dispatched, []);
    t.is(s.entra.requested.length, 1, 'no token was asked for beyond the start-up check');
    if (!/changed after signing/.test(what)) t.is(allFetches(s.fetches()) - before, 0, 'refused before any key look-up');
  });
}

test.serial('a flood of tokens with made-up key ids: each 401, one key-set fetch in all; a genuine token still gets in', async (t) => {
  const s = await production(t);
  const before = allFetches(s.fetches());
  const answers = await Promise.all(madeUpKids(20).map((kid) => s.post(personalMessage(s.fake, ALICE, 'status'), bf.token(s.claims(), kid))));
  t.deepEqual(answers.map((a) => a.status), Array(20).fill(401));
  t.true(s.fetches().keys <= 1, `key-set fetches: ${s.fetches().keys}`);
  t.true(allFetches(s.fetches()) - before <= 2, 'at most one metadata and one key-set fetch');
  await s.teams.idle();
  t.is(s.fake.calls.length, 0);
  t.is(s.store.size, 0);

  // The real key was fetched with the first refresh: no fetch for it.
  const fetched = allFetches(s.fetches());
  t.is((await s.post(personalMessage(s.fake, ALICE, 'status'), bf.token(s.claims()))).status, 200);
  t.is(allFetches(s.fetches()), fetched);
  // A minute later an unknown key may cause one more fetch (Microsoft rotates keys).
  await s.h.clock.advance(60_000);
  await s.post(personalMessage(s.fake, ALICE, 'status'), bf.token(s.claims(), 'rotated-key'));
  await s.post(personalMessage(s.fake, ALICE, 'status'), bf.token(s.claims(), 'another-rotated-key'));
  t.is(s.fetches().keys, 2);
});

test.serial('a service URL off the allow-list is refused even with an otherwise good token', async (t) => {
  const s = await production(t, { serviceUrls: ['smba.trafficmanager.net'] });
  const { status } = await s.post(personalMessage(s.fake, ALICE, 'claim physics'), bf.token(s.claims()));
  t.is(status, 401);
  await s.teams.idle();
  t.is(s.fake.calls.length, 0);
  t.is(s.fetches().keys, 0);
});

test.serial('a stored conversation naming a service URL off the allow-list is never used for a reminder', async (t) => {
  const s = await production(t);
  const attacker = await FakeConnector.start();
  t.teardown(() => attacker.close());
  // `localhost` is the attacker's connector here: not on the allow-list (127.0.0.1).
  const elsewhere = attacker.serviceUrl.replace('127.0.0.1', 'localhost');
  s.store.put(ALICE.aadObjectId, {
    account: 'alice',
    updatedAt: s.h.clock.now(),
    reference: { serviceUrl: elsewhere, channelId: 'msteams', conversation: { id: `a:personal-${ALICE.id}`, conversationType: 'personal', tenantId: TENANT }, user: { id: ALICE.id, aadObjectId: ALICE.aadObjectId }, agent: { id: `28:${APP}` } },
  });
  const error = await t.throwsAsync(s.teams.notify({ platform: 'teams', user: 'alice', conversation: ALICE.aadObjectId }, { tone: 'info', title: 'Your VM expires soon', blocks: [] }));
  t.regex(error!.message, /the Teams conversation stored for alice names a service URL the bot does not send to \(localhost is not on the allowed service hosts/);
  t.is(attacker.calls.length, 0, 'nothing, and no token, went to it');
  t.is(s.entra.requested.length, 1, 'no token was even fetched for it');
});

test('the checks alone: the issuer is checked before the key, and keys are fetched at most once a minute', async (t) => {
  const clock = new ManualClock();
  const tag = `unit${++tags}`;
  const keys = new BotConnectorKeys({ openIdMetadataUrl: bf.metadataUrl(tag), clock, log: silentLogger });
  const auth = new BotConnectorAuth({ appId: APP, issuer: BOT_FRAMEWORK_ISSUER, serviceUrls: new ServiceUrlPolicy(['127.0.0.1']), keys, clock });
  const activity = { serviceUrl: 'http://127.0.0.1:9/', channelId: 'msteams' };
  const now = Math.floor(clock.now() / 1000);
  const good = { iss: BOT_FRAMEWORK_ISSUER, aud: APP, serviceurl: 'http://127.0.0.1:9/', exp: now + 600 };
  t.like(await auth.authenticate(`Bearer ${bf.token(good)}`, activity), { ok: true, claims: { aud: APP } });
  const entra = await auth.authenticate(`Bearer ${bf.token({ ...good, iss: 'https://sts.windows.net/x/' }, 'unknown')}`, activity);
  t.regex(entra.ok ? '' : `${entra.status} ${entra.reason}`, /^401 the token was issued by https:\/\/sts\.windows\.net\/x\/, not the Bot Framework/);
  t.like(await auth.authenticate(`Bearer ${bf.token(good)}`, { ...activity, channelId: 'slack' }), { ok: false, reason: 'the signing key is not endorsed for channel slack' });
  t.like(await auth.authenticate('Basic YWxpY2U6c2VjcmV0', activity), { ok: false, reason: 'the Authorization header is not a bearer token' });
  t.like(await auth.authenticate(undefined, activity), { ok: false, reason: 'no Authorization header' });
  // Within the 5 minutes' tolerance an expired token still passes; past it, not.
  await clock.advance(600_000 + 240_000);
  t.true((await auth.authenticate(`Bearer ${bf.token(good)}`, activity)).ok);
  await clock.advance(120_000);
  t.like(await auth.authenticate(`Bearer ${bf.token(good)}`, activity), { ok: false, reason: 'the token has expired' });
  t.deepEqual(bf.countsOf(tag), { metadata: 1, keys: 1 });

  // A key set that cannot be fetched: 503 (Teams sends again), and no second try within the minute.
  const down = new BotConnectorKeys({ openIdMetadataUrl: 'http://127.0.0.1:9/nothing-here', clock, log: silentLogger });
  const offline = new BotConnectorAuth({ appId: APP, issuer: BOT_FRAMEWORK_ISSUER, serviceUrls: new ServiceUrlPolicy(['127.0.0.1']), keys: down, clock });
  const fresh = { ...good, exp: Math.floor(clock.now() / 1000) + 600 };
  t.like(await offline.authenticate(`Bearer ${bf.token(fresh)}`, activity), { ok: false, status: 503 });
  t.like(await offline.authenticate(`Bearer ${bf.token(fresh)}`, activity), { ok: false, status: 503 });
  t.is(down.fetches, 1);
});
