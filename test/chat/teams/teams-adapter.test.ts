/**
 * The Teams adapter with the real Agents SDK, mounted on the bot's real HTTP server on
 * 127.0.0.1 in anonymous loopback mode, answering Teams-shaped activities through a fake Bot
 * Connector service (the activities' serviceUrl) on 127.0.0.1, over a real app with full pools.
 */
import test, { type ExecutionContext } from 'ava';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import type { Invocation } from '../../../src/chat/invocation.ts';
import type { Reply } from '../../../src/chat/reply.ts';
import { InMemoryDeliveryLog } from '../../../src/adapters/memory-delivery-log.ts';
import { InMemoryConversationReferenceStore } from '../../../src/chat/teams/conversation-store.ts';
import type { AdaptiveCard } from '../../../src/chat/teams/render-card.ts';
import { TEAMS_MESSAGES_PATH, TeamsAdapter, type TeamsAdapterOptions } from '../../../src/chat/teams/teams-adapter.ts';
import { HttpServer } from '../../../src/http/http-server.ts';
import type { Logger } from '../../../src/ports/logger.ts';
import type { Harness } from '../../helpers/harness.ts';
import { filledHarness, snapshot } from '../../helpers/replies.ts';
import {
  BOT,
  channelMessage,
  executeInvoke,
  FakeConnector,
  installationUpdate,
  personalMessage,
  postActivity,
  submitMessage,
  TEAM_ID,
  TENANT,
  type ConnectorCall,
  type TestUser,
} from './fake-connector.ts';

const CONTACT = 'the DAaaS team (daaas@facility.example)';
const ALICE: TestUser = { id: '29:1alice', aadObjectId: '6f1e0c1a-0000-4000-8000-0000000a11ce', name: 'Alice Example' };
const BOB: TestUser = { id: '29:1bob', aadObjectId: '6f1e0c1a-0000-4000-8000-000000000b0b', name: 'Bob Example' };
const EVE: TestUser = { id: '29:1eve', aadObjectId: '6f1e0c1a-0000-4000-8000-000000000e0e', name: 'Eve Elsewhere' };
const GUEST: TestUser = { id: '29:1guest', aadObjectId: '6f1e0c1a-0000-4000-8000-0000000000ff', name: 'Gus Guest' };
/** Fast limits and back-off, so tests do not wait. */
const FAST = {
  limits: { perConversation: [{ limit: 50, ms: 1_000 }], perTenant: [{ limit: 100, ms: 1_000 }] },
  backoff: { initialMs: 10, maxMs: 50 },
};

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message?: string;
}

function recordingLogger(lines: LogLine[]): Logger {
  const push = (level: string) => (fields: object, message?: string) => void lines.push({ level, fields: fields as Record<string, unknown>, ...(message ? { message } : {}) });
  const log: Logger = { debug: () => {}, info: push('info'), warn: push('warn'), error: push('error'), child: () => log };
  return log;
}

interface Setup {
  h: Harness;
  fake: FakeConnector;
  teams: TeamsAdapter;
  store: InMemoryConversationReferenceStore;
  url: string;
  logs: LogLine[];
  post(activity: unknown): Promise<{ status: number; body: unknown }>;
  /** A fresh adapter on a fresh HTTP server over the same app, store and connector: a restart of the bot. */
  restart(): Promise<Setup>;
}

async function setup(t: ExecutionContext, options: { h?: Harness; fake?: FakeConnector; store?: InMemoryConversationReferenceStore; dispatch?: (inv: Invocation, real: (inv: Invocation) => Promise<Reply>) => Promise<Reply>; extra?: Partial<TeamsAdapterOptions> } = {}): Promise<Setup> {
  const h = options.h ?? (await filledHarness(t));
  let fake = options.fake;
  if (!fake) {
    const started = await FakeConnector.start();
    t.teardown(() => started.close());
    fake = started;
    fake.members.set(ALICE.id, { id: ALICE.id, aadObjectId: ALICE.aadObjectId, name: ALICE.name, userPrincipalName: 'Alice@facility.example', email: 'alice.example@facility.example', userRole: 'user' });
    fake.members.set(BOB.id, { id: BOB.id, aadObjectId: BOB.aadObjectId, name: BOB.name, userPrincipalName: 'bob@facility.example', userRole: 'user' });
    fake.members.set(EVE.id, { id: EVE.id, aadObjectId: EVE.aadObjectId, name: EVE.name, userPrincipalName: 'eve@elsewhere.example', userRole: 'user' });
    fake.members.set(GUEST.id, { id: GUEST.id, aadObjectId: GUEST.aadObjectId, name: GUEST.name, userPrincipalName: 'gus_partner.example#EXT#@facility.example', userRole: 'guest' });
  }
  const store = options.store ?? new InMemoryConversationReferenceStore();
  const logs: LogLine[] = [];
  const http = new HttpServer(recordingLogger([]));
  const real = (inv: Invocation) => h.app.dispatch(inv);
  const teams = new TeamsAdapter({
    auth: { mode: 'anonymous' },
    host: '127.0.0.1',
    http,
    dispatch: options.dispatch ? (inv) => options.dispatch!(inv, real) : real,
    identity: { contact: CONTACT, domains: ['facility.example'] },
    references: store,
    clock: h.clock,
    log: recordingLogger(logs),
    outbound: { clock: new SystemClock(), ...FAST },
    ...options.extra,
  });
  h.app.notifier.register('teams', teams);
  const address = await http.listen('127.0.0.1', 0);
  await teams.start();
  t.teardown(async () => {
    await teams.stop();
    await http.close();
  });
  const url = `http://127.0.0.1:${address.port}${TEAMS_MESSAGES_PATH}`;
  const self: Setup = {
    h,
    fake,
    teams,
    store,
    url,
    logs,
    post: (activity) => postActivity(url, activity),
    restart: async () => {
      await teams.stop();
      await http.close();
      return setup(t, { h, fake, store, ...(options.extra?.deliveries ? { extra: { deliveries: options.extra.deliveries } } : {}) });
    },
  };
  return self;
}

interface Attachment {
  contentType: string;
  content: AdaptiveCard;
}

function cardOf(call: ConnectorCall): AdaptiveCard {
  const attachments = (call.body?.attachments ?? []) as Attachment[];
  const card = attachments.find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
  if (!card) throw new Error(`no adaptive card in ${JSON.stringify(call.body)}`);
  return card;
}

interface CardAction {
  type: string;
  title: string;
  verb?: string;
  data?: { command: string; owner?: string };
  url?: string;
  card?: { actions: CardAction[] };
  fallback?: { type: string; data: unknown };
}

/** Every action on a card, including those inside Action.ShowCard. */
function actionsOf(card: AdaptiveCard): CardAction[] {
  const sets = card.body.filter((e) => e.type === 'ActionSet').flatMap((e) => e.actions as CardAction[]);
  return sets.flatMap((a) => [a, ...(a.card?.actions ?? [])]);
}

function executeAction(card: AdaptiveCard, commandPrefix: string): CardAction {
  const found = actionsOf(card).find((a) => a.type === 'Action.Execute' && a.data?.command.startsWith(commandPrefix));
  if (!found) throw new Error(`no Action.Execute for ${commandPrefix} in ${JSON.stringify(card)}`);
  return found;
}

function cardText(card: AdaptiveCard): string {
  return JSON.stringify(card.body);
}

/** Posts a personal message and waits for the answer at the fake connector. */
async function say(s: Setup, user: TestUser, text: string): Promise<{ status: number; answer: ConnectorCall }> {
  const activity = personalMessage(s.fake, user, text);
  const before = s.fake.delivered().length;
  const { status } = await s.post(activity);
  const answer = await s.fake.waitFor(() => s.fake.delivered()[before], `an answer to "${text}"`);
  return { status, answer };
}

test('a personal message is acknowledged and answered with an Adaptive Card at the connector, as a reply to it', async (t) => {
  const s = await setup(t);
  const activity = personalMessage(s.fake, ALICE, 'claim physics');
  const { status } = await s.post(activity);
  t.is(status, 200);

  const answer = await s.fake.waitFor(() => s.fake.delivered()[0], 'the answer');
  t.is(answer.kind, 'reply');
  t.is(answer.conversationId, `a:personal-${ALICE.id}`);
  t.is(answer.replyToId, activity.id);
  t.is(answer.authorization, undefined, 'anonymous mode: no token');
  t.like(answer.body, { type: 'message', replyToId: activity.id, from: { id: BOT.id }, recipient: { id: ALICE.id } });

  const lease = s.h.store.activeLeases({ user: 'alice' })[0]!;
  t.truthy(lease, 'Alice@facility.example is the facility account alice (UPN local part)');
  t.is(lease.platform, 'teams');
  t.is(lease.conversation, ALICE.aadObjectId, 'reminders go to her Entra identity');
  const card = cardOf(answer);
  t.is(card.version, '1.5');
  t.regex(cardText(card), new RegExp(`${lease.vm.name} is yours`));
  t.regex(cardText(card), /\{\{DATE\(2026-01-07T09:00:15Z, SHORT\)\}\} \{\{TIME\(2026-01-07T09:00:15Z\)\}\}/);
  t.deepEqual(executeAction(card, 'extend').data, { command: `extend ${lease.vm.name}`, owner: 'alice' });
  t.is((answer.body as { summary?: string }).summary, `${lease.vm.name} is yours for 2d (expires: Wed 7 Jan, 09:00 UTC)`);

  // She can be reached later: the conversation is stored under her Entra object id.
  t.like(s.store.get(ALICE.aadObjectId), { account: 'alice', reference: { conversation: { id: `a:personal-${ALICE.id}`, conversationType: 'personal' }, serviceUrl: s.fake.serviceUrl } });
  // The member look-up happened once and is cached; "/daaas" in front is accepted too.
  const second = await say(s, ALICE, '/daaas status');
  t.regex(cardText(cardOf(second.answer)), new RegExp(lease.vm.name));
  t.is(s.fake.callsOf('member').length, 1);
  t.is(s.fake.callsOf('member')[0]!.conversationId, `a:personal-${ALICE.id}`);
});

const CHANNEL_THREAD = '19:general@thread.tacv2;messageid=1700000000999';

test('in a channel the bot answers when @mentioned (mention stripped), and ignores other messages; a claim’s card goes to the personal chat, the thread gets one line', async (t) => {
  const s = await setup(t);
  const ignored = channelMessage(s.fake, BOB, 'claim physics', false);
  t.is((await s.post(ignored)).status, 200);

  const mentioned = channelMessage(s.fake, BOB, 'claim physics');
  t.is((await s.post(mentioned)).status, 200);
  const line = await s.fake.waitFor(() => s.fake.delivered().find((c) => c.conversationId === CHANNEL_THREAD), 'the line in the channel');
  await s.teams.idle();
  const lease = s.h.store.activeLeases({ user: 'bob' })[0]!;
  t.truthy(lease);
  t.is(s.fake.delivered().length, 2, 'the card in the personal chat, one line in the thread; the unmentioned message unanswered');

  // The card, with the VM's address and how to connect, went to Bob's personal chat, opened for it.
  t.like(s.fake.callsOf('create')[0]!.body, { isGroup: false, members: [{ id: BOB.id }], tenantId: TENANT });
  const card = s.fake.delivered()[0]!;
  t.is(card.conversationId, `a:personal-${BOB.id}`);
  t.regex(cardText(cardOf(card)), new RegExp(`${lease.vm.name} is yours`));
  t.regex(cardText(cardOf(card)), new RegExp(lease.vm.address!.replace(/\./g, '\\.')));

  // The thread got a short line, as a reply to the message, that reveals nothing.
  t.is(line.kind, 'reply');
  t.is(line.replyToId, mentioned.id);
  t.like(line.body, { type: 'message', text: 'Bob Example: I sent you the details in our personal chat.' });
  t.is(line.body?.attachments, undefined);
  t.false(JSON.stringify(line.body).includes(lease.vm.name));
  t.false(JSON.stringify(line.body).includes(lease.vm.address!));

  // In a channel the user is looked up in the team's roster; their personal chat is remembered.
  t.is(s.fake.callsOf('member')[0]!.conversationId, TEAM_ID);
  t.like(s.store.get(BOB.aadObjectId), { account: 'bob', reference: { conversation: { id: `a:personal-${BOB.id}`, conversationType: 'personal' } } });

  // Extend on that card from the channel (an old card there): a note to Bob, the updated card in his personal chat.
  const extend = executeAction(cardOf(card), 'extend');
  const { body } = await s.post(executeInvoke(s.fake, BOB, { verb: extend.verb, data: extend.data }, { id: CHANNEL_THREAD, conversationType: 'channel', isGroup: true }));
  t.like(body, { statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
  t.regex((body as { value: string }).value, /extended by 1d\. The details are in your personal chat with the bot\./);
  const updated = await s.fake.waitFor(() => s.fake.delivered()[2], 'the updated card');
  t.is(updated.conversationId, `a:personal-${BOB.id}`);
  t.regex(cardText(cardOf(updated)), /extended by 1d/);
});

test('in a channel, help and refusals are answered in the thread: they show nothing of anyone’s VM', async (t) => {
  const s = await setup(t);
  await s.post(channelMessage(s.fake, BOB, 'help'));
  const help = await s.fake.waitFor(() => s.fake.delivered()[0], 'the help');
  t.is(help.conversationId, CHANNEL_THREAD);
  t.regex(cardText(cardOf(help)), /DAaaS: analysis VMs on demand/);
  await s.post(channelMessage(s.fake, BOB, 'claim physcs'));
  const refusal = await s.fake.waitFor(() => s.fake.delivered()[1], 'the refusal');
  t.is(refusal.conversationId, CHANNEL_THREAD);
  t.regex(cardText(cardOf(refusal)), /There is no pool called/);
  t.is(s.fake.callsOf('create').length, 0);
});

test('Action.Execute is answered in the same HTTP response with the updated card, and nothing else is posted', async (t) => {
  const s = await setup(t);
  const { answer } = await say(s, ALICE, 'claim physics');
  const extend = executeAction(cardOf(answer), 'extend');
  const before = s.fake.calls.length;

  const { status, body } = await s.post(executeInvoke(s.fake, ALICE, { verb: extend.verb, data: extend.data }));
  t.is(status, 200);
  const response = body as { statusCode: number; type: string; value: AdaptiveCard };
  t.is(response.statusCode, 200);
  t.is(response.type, 'application/vnd.microsoft.card.adaptive');
  t.is(response.value.type, 'AdaptiveCard');
  t.regex(cardText(response.value), /extended by 1d/);
  t.regex(cardText(response.value), /1 of 2 \(each \+1d\)/);
  t.is(s.h.store.activeLeases({ user: 'alice' })[0]!.extensionsUsed, 1);
  t.is(s.fake.calls.length, before, 'the answer went back in the invoke response only');
});

test('an invoke delivered twice extends once; a refused click by the owner is a message and the card stays', async (t) => {
  const s = await setup(t);
  const { answer } = await say(s, ALICE, 'claim physics');
  const extend = executeAction(cardOf(answer), 'extend');
  const click = executeInvoke(s.fake, ALICE, { verb: extend.verb, data: extend.data });
  const first = await s.post(click);
  const again = await s.post(click);
  t.deepEqual(again.body, first.body);
  t.is(s.h.store.activeLeases({ user: 'alice' })[0]!.extensionsUsed, 1);

  await s.post(executeInvoke(s.fake, ALICE, { verb: extend.verb, data: extend.data }));
  const { body } = await s.post(executeInvoke(s.fake, ALICE, { verb: extend.verb, data: extend.data }));
  t.like(body, { statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
  t.regex((body as { value: string }).value, /has been extended twice, the most pool physics allows/);
  t.is(s.h.store.activeLeases({ user: 'alice' })[0]!.extensionsUsed, 2);
});

test('Release asks first, inside the card; its confirm button releases through Action.Execute', async (t) => {
  const s = await setup(t);
  const { answer } = await say(s, ALICE, 'claim physics');
  const vm = s.h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const card = cardOf(answer);
  const showCard = card.body.filter((e) => e.type === 'ActionSet').flatMap((e) => e.actions as CardAction[]).find((a) => a.type === 'Action.ShowCard');
  t.truthy(showCard, 'Release opens a confirmation in the card');
  const confirm = showCard!.card!.actions[0]!;
  t.deepEqual(confirm.data, { command: `release ${vm} --yes`, owner: 'alice' });

  const { body } = await s.post(executeInvoke(s.fake, ALICE, { verb: confirm.verb, data: confirm.data }));
  t.regex(cardText((body as { value: AdaptiveCard }).value), new RegExp(`${vm} released`));
  t.is(s.h.store.activeLeases({ user: 'alice' }).length, 0);
});

test('Action.Submit (older clients) arrives as a message with a value and is answered with a new card', async (t) => {
  const s = await setup(t);
  const { answer } = await say(s, ALICE, 'claim physics');
  const extend = executeAction(cardOf(answer), 'extend');
  t.is(extend.fallback?.type, 'Action.Submit');

  const submit = submitMessage(s.fake, ALICE, extend.fallback!.data);
  t.is((await s.post(submit)).status, 200);
  const updated = await s.fake.waitFor(() => s.fake.delivered()[1], 'the answer to the submit');
  t.is(updated.replyToId, submit.id);
  t.regex(cardText(cardOf(updated)), /extended by 1d/);
  t.is(s.h.store.activeLeases({ user: 'alice' })[0]!.extensionsUsed, 1);
});

test('a stranger clicking someone else’s Extend is refused politely and nothing changes; the card stays', async (t) => {
  const s = await setup(t);
  const { answer } = await say(s, ALICE, 'claim physics');
  const extend = executeAction(cardOf(answer), 'extend');
  const before = snapshot(s.h);

  // Bob sees Alice's card in a channel and clicks Extend (Action.Execute).
  const channel = { id: '19:general@thread.tacv2;messageid=1700000000999', conversationType: 'channel', isGroup: true };
  const { status, body } = await s.post(executeInvoke(s.fake, BOB, { verb: extend.verb, data: extend.data }, channel));
  t.is(status, 200);
  const response = body as { statusCode: number; type: string; value: string };
  t.is(response.type, 'application/vnd.microsoft.activity.message', 'a message for Bob, not a new card');
  t.regex(response.value, /^Sorry, that button is not yours to press\. It acts on a VM held by alice/);
  t.regex(response.value, /is not yours, so you cannot extend it/);

  // And with the Action.Submit fallback: the refusal is a reply.
  await s.post(submitMessage(s.fake, BOB, extend.fallback!.data, channel));
  const refusal = await s.fake.waitFor(() => s.fake.delivered()[1], 'the refusal');
  t.regex(cardText(cardOf(refusal)), /not yours to press/);

  const after = snapshot(s.h);
  t.deepEqual(after.leases, before.leases);
  t.deepEqual(after.vms, before.vms);
});

test('unmapped users are told why and whom to ask; unknown pools and guests get clear answers', async (t) => {
  const s = await setup(t);
  const eve = await say(s, EVE, 'claim physics');
  const eveText = cardText(cardOf(eve.answer));
  t.regex(eveText, /not linked to a facility account/);
  t.regex(eveText, /eve@elsewhere\.example\) is not at the facility’s domain \(facility\.example\)/);
  t.regex(eveText, /Ask the DAaaS team \(daaas@facility\.example\) to link your account \(Entra object id 6f1e0c1a-0000-4000-8000-000000000e0e\)/);

  const guest = await say(s, GUEST, 'status');
  t.regex(cardText(cardOf(guest.answer)), /guests are linked to facility accounts only by hand/);

  const typo = await say(s, ALICE, 'claim physcs');
  t.regex(cardText(cardOf(typo.answer)), /There is no pool called \\"physcs\\". Did you mean physics\?/);
  t.is(s.h.store.activeLeases().length, 0);
  t.is(s.store.get(EVE.aadObjectId), undefined, 'an unmapped user’s conversation is not kept');
});

test('a reminder reaches the user after a restart, through the stored conversation reference', async (t) => {
  const first = await setup(t);
  await say(first, ALICE, 'claim physics');
  const lease = first.h.store.activeLeases({ user: 'alice' })[0]!;
  const s = await first.restart();

  await s.h.clock.advance(lease.expiresAt - 24 * 3_600_000 - s.h.clock.now() + 1_000);
  await s.h.tick();
  const reminder = await s.fake.waitFor(() => s.fake.delivered().find((c) => c.kind === 'send'), 'the reminder');
  t.is(reminder.conversationId, `a:personal-${ALICE.id}`);
  t.is(reminder.replyToId, undefined);
  t.like(reminder.body, { type: 'message', recipient: { id: ALICE.id }, from: { id: BOT.id } });
  const card = cardOf(reminder);
  t.regex(cardText(card), new RegExp(`${lease.vm.name} will be torn down in 1d`));
  t.deepEqual(executeAction(card, 'extend').data, { command: `extend ${lease.vm.name}`, owner: 'alice' });
});

test('a user who only talked in a channel gets reminders in a personal chat the bot opens', async (t) => {
  const s = await setup(t);
  await s.post(channelMessage(s.fake, BOB, 'claim physics'));
  await s.fake.waitFor(() => s.fake.delivered()[0], 'the claim answer');
  const lease = s.h.store.activeLeases({ user: 'bob' })[0]!;

  await s.teams.notify({ platform: 'teams', user: 'bob', conversation: lease.conversation }, { tone: 'info', title: 'Hello Bob', blocks: [] });
  const create = s.fake.callsOf('create')[0]!;
  t.like(create.body, { isGroup: false, bot: { id: BOT.id }, members: [{ id: BOB.id }], tenantId: TENANT });
  const sent = s.fake.delivered().find((c) => c.kind === 'send')!;
  t.is(sent.conversationId, `a:personal-${BOB.id}`);
  t.like(s.store.get(BOB.aadObjectId), { reference: { conversation: { id: `a:personal-${BOB.id}`, conversationType: 'personal' } } });
});

test('403 MessageWritesBlocked marks the user unreachable, is logged for admins, and is not tried again', async (t) => {
  const s = await setup(t);
  await say(s, ALICE, 'claim physics');
  const lease = s.h.store.activeLeases({ user: 'alice' })[0]!;
  s.fake.answerNext('send', { status: 403, code: 'MessageWritesBlocked' });
  const to = { platform: 'teams', user: 'alice', conversation: lease.conversation };
  const hello: Reply = { tone: 'info', title: 'Hello', blocks: [] };

  const error = await t.throwsAsync(s.teams.notify(to, hello));
  t.regex(error!.message, /alice cannot be reached in Teams \(MessageWritesBlocked\)/);
  t.is(s.fake.callsOf('send').length, 1, 'a 403 is not retried');
  t.like(s.store.get(ALICE.aadObjectId), { unreachable: { reason: 'MessageWritesBlocked' } });
  t.true(s.logs.some((l) => l.level === 'warn' && l.fields.forAdmins === true && /marked unreachable/.test(l.message ?? '')));

  // The reconciler's reminders now fail at once, without calling Teams.
  await s.h.clock.advance(lease.expiresAt - 24 * 3_600_000 - s.h.clock.now() + 1_000);
  await s.h.tick();
  await t.throwsAsync(s.teams.notify(to, hello), { message: /removed or blocked the bot in Teams/ });
  t.is(s.fake.callsOf('send').length, 1);

  // Talking to the bot again makes her reachable again.
  await say(s, ALICE, 'status');
  await s.teams.notify(to, hello);
  t.is(s.fake.callsOf('send').length, 2);
});

test('429 with Retry-After, and 502, are sent again after a pause; then delivered once', async (t) => {
  const s = await setup(t);
  s.fake.answerNext('reply', { status: 429, retryAfter: 0.05, code: 'Throttled' }, { status: 502 });
  const { answer } = await say(s, ALICE, 'status');
  t.is(answer.status, 200);
  const replies = s.fake.callsOf('reply');
  t.deepEqual(replies.map((c) => c.status), [429, 502, 200]);
  t.true(s.logs.some((l) => l.level === 'info' && l.fields.status === 429 && /slow down/.test(l.message ?? '')));
});

test('repeated deliveries are ignored; another tenant is refused; installationUpdate remove stops reminders', async (t) => {
  const s = await setup(t);
  const activity = personalMessage(s.fake, ALICE, 'claim physics');
  await s.post(activity);
  await s.post(activity);
  await s.fake.waitFor(() => s.fake.delivered()[0], 'the answer');
  await s.teams.idle();
  t.is(s.fake.delivered().length, 1);
  t.is(s.h.store.activeLeases({ user: 'alice' }).length, 1);

  const foreign = personalMessage(s.fake, BOB, 'claim physics');
  (foreign.conversation as Record<string, unknown>).tenantId = '00000000-0000-4000-8000-0000000f0e19';
  (foreign.channelData as Record<string, unknown>).tenant = { id: '00000000-0000-4000-8000-0000000f0e19' };
  const s2 = await setup(t, { h: s.h, fake: s.fake, extra: { tenants: [TENANT] } });
  await s2.post(foreign);
  const refusal = await s.fake.waitFor(() => s.fake.delivered()[1], 'the refusal');
  t.regex(cardText(cardOf(refusal)), /serves only its own organisation/);
  t.is(s.h.store.activeLeases({ user: 'bob' }).length, 0);

  await s.post(installationUpdate(s.fake, ALICE, 'remove'));
  await s.teams.idle();
  t.like(s.store.get(ALICE.aadObjectId), { unreachable: { reason: 'removed the app' } });
});

test('a message and an invoke Teams repeats after a restart are recognised: not run again, the invoke answered as before', async (t) => {
  // Shared by the bot before and after the restart, as the SQLite file is.
  const deliveries = new InMemoryDeliveryLog();
  const first = await setup(t, { extra: { deliveries } });
  const claim = personalMessage(first.fake, ALICE, 'claim physics');
  await first.post(claim);
  const answer = await first.fake.waitFor(() => first.fake.delivered()[0], 'the card');
  const extend = executeAction(cardOf(answer), 'extend');
  const click = executeInvoke(first.fake, ALICE, { verb: extend.verb, data: extend.data });
  const clicked = await first.post(click);
  t.is(first.h.store.activeLeases({ user: 'alice' })[0]!.extensionsUsed, 1);

  const s = await first.restart();
  const delivered = s.fake.delivered().length;
  await s.post(claim);
  t.deepEqual((await s.post(click)).body, clicked.body, 'the same answer as before the restart');
  await s.teams.idle();
  t.is(s.h.store.activeLeases({ user: 'alice' })[0]!.extensionsUsed, 1, 'extended once');
  t.is(s.h.store.auditLog().filter((a) => a.action === 'claim').length, 1, 'claimed once');
  t.is(s.fake.delivered().length, delivered, 'nothing answered twice');
  t.true(s.logs.some((l) => l.message === 'repeated Teams delivery ignored'));
});

test('a member of another tenant’s directory is never mapped by the rule; with allowGuests only an explicit mapping lets them in', async (t) => {
  const first = await setup(t);
  // In a shared channel of the bot's tenant: their directory's admin chose their e-mail address.
  const MALLORY: TestUser = { id: '29:1mallory', aadObjectId: '6f1e0c1a-0000-4000-8000-00000000a11e', name: 'Mallory Partner' };
  const PARTNER_TENANT = '00000000-0000-4000-8000-0000000f0e19';
  first.fake.members.set(MALLORY.id, { id: MALLORY.id, aadObjectId: MALLORY.aadObjectId, name: MALLORY.name, userPrincipalName: 'mallory@partner.example', email: 'alice@facility.example', userRole: 'user', tenantId: PARTNER_TENANT });
  const rules = { contact: CONTACT, domains: ['facility.example'], rule: 'email-local-part' as const };
  const channel = { id: CHANNEL_THREAD, conversationType: 'channel', isGroup: true };
  const ask = async (s: Setup, text: string) => {
    const before = s.fake.delivered().length;
    await s.post(channelMessage(s.fake, MALLORY, text));
    return cardText(cardOf(await s.fake.waitFor(() => s.fake.delivered()[before], `the answer to ${text}`)));
  };

  const plain = await setup(t, { h: first.h, fake: first.fake, extra: { tenants: [TENANT], identity: rules } });
  t.regex(await ask(plain, 'claim physics'), /serves only its own organisation’s Teams.*another organisation’s directory/);

  const guests = await setup(t, { h: first.h, fake: first.fake, extra: { tenants: [TENANT], identity: { ...rules, allowGuests: true } } });
  t.regex(await ask(guests, 'claim physics'), /another organisation’s directory; such users are linked to facility accounts only by hand/);
  t.is(first.h.store.activeLeases().length, 0, 'not alice');
  t.is(plain.store.get(MALLORY.aadObjectId), undefined);
  t.is(guests.store.get(MALLORY.aadObjectId), undefined);

  const mapped = await setup(t, { h: first.h, fake: first.fake, extra: { tenants: [TENANT], identity: { ...rules, allowGuests: true, map: { 'mallory@partner.example': 'mallory' } } } });
  t.regex(await ask(mapped, 'help'), /DAaaS: analysis VMs on demand/);
  t.like(mapped.store.get(MALLORY.aadObjectId), { account: 'mallory', reference: { conversation: channel } });
});

test('anonymous mode refuses activities whose serviceUrl is not on this machine', async (t) => {
  const s = await setup(t);
  const activity = personalMessage(s.fake, ALICE, 'claim physics');
  activity.serviceUrl = 'https://smba.example.invalid/emea/';
  const { status } = await s.post(activity);
  t.is(status, 400);
  await s.teams.idle();
  t.is(s.fake.calls.length, 0);
  t.is(s.h.store.activeLeases().length, 0);
});

test('production mode: a request without a token, with a garbage token or with a token for another bot gets 401, and nothing runs', async (t) => {
  const h = await filledHarness(t);
  const dispatched: Invocation[] = [];
  const http = new HttpServer(recordingLogger([]));
  const teams = new TeamsAdapter({
    auth: { mode: 'production', clientId: '0b5e7a1c-0000-4000-8000-00000000b07a', clientSecret: 'not-a-real-secret', tenantId: TENANT, source: 'test' },
    host: '0.0.0.0',
    http,
    dispatch: async (inv) => (dispatched.push(inv), h.app.dispatch(inv)),
    identity: { contact: CONTACT },
    references: new InMemoryConversationReferenceStore(),
    clock: h.clock,
    log: recordingLogger([]),
  });
  t.is(teams.mode, 'production');
  // Bound to loopback here only because tests must not listen on every address; the adapter was told 0.0.0.0.
  const address = await http.listen('127.0.0.1', 0);
  t.teardown(async () => {
    await teams.stop();
    await http.close();
  });
  const url = `http://127.0.0.1:${address.port}${TEAMS_MESSAGES_PATH}`;
  const fake = await FakeConnector.start();
  t.teardown(() => fake.close());
  const activity = personalMessage(fake, ALICE, 'claim physics');

  const unsigned = (claims: object) => `${Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'k' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2lnbmF0dXJl`;
  const answers = [
    await postActivity(url, activity),
    await postActivity(url, activity, { authorization: 'Bearer garbage' }),
    await postActivity(url, activity, { authorization: 'Basic YWxpY2U6c2VjcmV0' }),
    await postActivity(url, activity, { authorization: `Bearer ${unsigned({ aud: 'some-other-bot', iss: 'https://api.botframework.com', exp: 4_102_444_800 })}` }),
  ];
  t.deepEqual(answers.map((a) => a.status), [401, 401, 401, 401]);
  await teams.idle();
  t.deepEqual(dispatched, []);
  t.is(fake.calls.length, 0);
  t.is(h.store.activeLeases().length, 0);
});

test('anonymous mode is refused off loopback and without credentials start-up is refused, with clear errors', (t) => {
  t.throws(
    () =>
      new TeamsAdapter({
        auth: { mode: 'anonymous' },
        host: '0.0.0.0',
        http: new HttpServer(recordingLogger([])),
        dispatch: async () => ({ tone: 'info', title: '', blocks: [] }),
        identity: { contact: CONTACT },
        references: new InMemoryConversationReferenceStore(),
        clock: new SystemClock(),
        log: recordingLogger([]),
      }),
    { message: /anonymous mode is honoured only on a loopback address, and the bot listens on 0\.0\.0\.0/ },
  );
  const missing = TeamsAdapter.authFromEnv({}, '127.0.0.1');
  t.false(missing.ok);
  t.regex(missing.ok ? '' : missing.error, /Teams needs credentials and none are set/);
  const offLoopback = TeamsAdapter.authFromEnv({ TEAMS_ALLOW_ANONYMOUS: '1' }, '0.0.0.0');
  t.regex(offLoopback.ok ? '' : offLoopback.error, /honoured only when the bot listens on a loopback address/);
  t.deepEqual(TeamsAdapter.authFromEnv({ TEAMS_ALLOW_ANONYMOUS: '1' }, '127.0.0.1'), { ok: true, auth: { mode: 'anonymous' } });
});

test('admin alerts here in a Teams channel: from then on alerts are new posts in that channel; a non-admin cannot set it', async (t) => {
  const s = await setup(t);
  const ROOT: TestUser = { id: '29:1root', aadObjectId: '6f1e0c1a-0000-4000-8000-00000000a007', name: 'Root Operator' };
  s.fake.members.set(ROOT.id, { id: ROOT.id, aadObjectId: ROOT.aadObjectId, name: ROOT.name, userPrincipalName: 'root@facility.example', userRole: 'user' });
  await s.post(channelMessage(s.fake, BOB, 'admin alerts here'));
  await s.fake.waitFor(() => s.fake.delivered()[0], 'the refusal');
  await s.teams.idle();
  t.deepEqual(s.h.app.service.alerts!.overview().destinations, ['a direct message to each admin (root) on test, teams'], 'bob is no admin: nothing kept');

  await s.post(channelMessage(s.fake, ROOT, 'admin alerts here'));
  await s.fake.waitFor(() => s.fake.delivered()[1], 'the answer');
  await s.teams.idle();
  t.regex(s.h.app.service.alerts!.overview().destinations[0]!, /^the teams conversation set by root on /);

  s.h.store.savePoolHealth({ pool: 'physics', lastError: 'boot: Image physics-base could not be found.', lastErrorAt: s.h.clock.now(), consecutiveFailures: 1, backoffUntil: null });
  await s.h.tick();
  const post = await s.fake.waitFor(() => s.fake.delivered().find((c) => c.kind === 'send' && c.conversationId === '19:general@thread.tacv2'), 'the alert in the channel');
  t.is(post.replyToId, undefined, 'a post of its own, not a reply in the thread of the command');
  t.regex(cardText(cardOf(post)), /ALERT: image missing: physics/);
});
