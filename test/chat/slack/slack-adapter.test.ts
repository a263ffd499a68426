/**
 * The Slack adapter with the real Bolt app, mounted on the bot's real HTTP server, talking to a
 * fake Slack Web API on 127.0.0.1; requests are built and signed the way Slack does.
 */
import test, { type ExecutionContext } from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryDeliveryLog } from '../../../src/adapters/memory-delivery-log.ts';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import type { Invocation } from '../../../src/chat/invocation.ts';
import { reminderMessage } from '../../../src/chat/lease-card.ts';
import { reply, type Reply } from '../../../src/chat/reply.ts';
import { decodeButtonValue } from '../../../src/chat/slack/render-blocks.ts';
import { SlackAdapter, type SlackAdapterOptions } from '../../../src/chat/slack/slack-adapter.ts';
import { principalFor } from '../../../src/core/access.ts';
import { alertBody } from '../../../src/core/alert-messages.ts';
import { HttpServer } from '../../../src/http/http-server.ts';
import type { Logger } from '../../../src/ports/logger.ts';
import { filledHarness, snapshot } from '../../helpers/replies.ts';
import { blockActionsBody, eventBody, FakeSlack, newTrigger, postSigned, sign, slashCommandBody } from './fake-slack.ts';

const SECRET = 'signing-secret-for-tests-only';
const CONTACT = 'the DAaaS team (daaas@facility.example)';
/** Fast limits so tests do not wait; per-channel spacing kept short. */
const FAST = { 'chat.postMessage': { perMinute: 60_000, burst: 100, perChannelMs: 50 }, 'views.publish': { perMinute: 60_000, burst: 100 }, 'users.info': { perMinute: 60_000, burst: 100 } };

interface Button {
  type: string;
  action_id: string;
  value: string;
  text: { text: string };
}

/** Records log lines, to show failures are logged rather than thrown. */
function recordingLogger(lines: { level: string; fields: object; message?: string }[]): Logger {
  const log: Logger = {
    debug: () => {},
    info: (fields, message) => void lines.push({ level: 'info', fields, ...(message ? { message } : {}) }),
    warn: (fields, message) => void lines.push({ level: 'warn', fields, ...(message ? { message } : {}) }),
    error: (fields, message) => void lines.push({ level: 'error', fields, ...(message ? { message } : {}) }),
    child: () => log,
  };
  return log;
}

async function setup(t: ExecutionContext, options: { dispatch?: (inv: Invocation, real: (inv: Invocation) => Promise<Reply>) => Promise<Reply>; limits?: SlackAdapterOptions['outbound'] } = {}) {
  const h = await filledHarness(t);
  const fake = await FakeSlack.start();
  fake.users.set('UALICE', { email: 'Alice@facility.example' });
  fake.users.set('UBOB', { email: 'bob@facility.example' });
  fake.users.set('UEVE', { email: 'eve@elsewhere.example' });
  fake.users.set('UNOMAIL', {});
  const logs: { level: string; fields: object; message?: string }[] = [];
  const http = new HttpServer(recordingLogger([]));
  const real = (inv: Invocation) => h.app.dispatch(inv);
  const slack = new SlackAdapter({
    botToken: 'xoxb-test-token',
    signingSecret: SECRET,
    slackApiUrl: fake.apiUrl,
    http,
    dispatch: options.dispatch ? (inv) => options.dispatch!(inv, real) : real,
    identity: { rule: 'email-local-part', domains: ['facility.example'], contact: CONTACT },
    home: { service: h.app.service, principal: (account) => principalFor(account, h.config.access) },
    // As main.ts wires it: a lease change on any platform republishes the Home tab.
    leaseChanges: (listener) => h.app.onLeaseChange(listener),
    clock: h.clock,
    log: recordingLogger(logs),
    outbound: options.limits ?? { clock: new SystemClock(), limits: FAST },
  });
  h.app.notifier.register('slack', slack);
  const address = await http.listen('127.0.0.1', 0);
  await slack.start();
  t.teardown(async () => {
    await slack.stop();
    await http.close();
    await fake.close();
  });
  const url = `http://127.0.0.1:${address.port}/slack/events`;
  const now = () => Math.floor(h.clock.now() / 1000);
  let responses = 0;
  return {
    h,
    fake,
    slack,
    url,
    logs,
    /** Posts `/daaas <text>` as `user`; returns the ack and the response_url id. */
    async command(user: string, text: string, extra: { trigger?: string; headers?: Record<string, string> } = {}) {
      const id = `r${++responses}`;
      const body = slashCommandBody({ user, text, responseUrl: fake.responseUrl(id), ...(extra.trigger ? { trigger: extra.trigger } : {}) });
      const ack = await postSigned(url, body, { secret: SECRET, timestampSec: now(), ...(extra.headers ? { headers: extra.headers } : {}) });
      return { ack, id, body };
    },
    /** The first answer at a response_url. */
    answer(id: string) {
      return fake.waitFor(() => fake.responsesTo(id)[0]?.body, `an answer at response_url ${id}`);
    },
    async click(user: string, button: Button, container?: Record<string, unknown>) {
      const id = `r${++responses}`;
      const body = blockActionsBody({ user, button, ...(container ? { container } : { responseUrl: fake.responseUrl(id) }) });
      const ack = await postSigned(url, body, { secret: SECRET, timestampSec: now() });
      return { ack, id };
    },
    now,
  };
}

function buttonsOf(message: Record<string, unknown>): Button[] {
  const blocks = (message.blocks ?? []) as { type: string; elements?: Button[]; accessory?: Button }[];
  return blocks.flatMap((b) => [...(b.type === 'actions' ? (b.elements ?? []) : []), ...(b.accessory?.value ? [b.accessory] : [])]);
}

function button(message: Record<string, unknown>, verb: string): Button {
  const found = buttonsOf(message).find((b) => decodeButtonValue(b.value)?.command.startsWith(verb));
  if (!found) throw new Error(`no ${verb} button in ${JSON.stringify(message)}`);
  return found;
}

test('/daaas claim is acknowledged at once, whatever the cloud does, and the card arrives at the response_url, ephemeral', async (t) => {
  let release!: () => void;
  const cloudIsSlow = new Promise<void>((resolve) => (release = resolve));
  const s = await setup(t, { dispatch: async (inv, real) => (await cloudIsSlow, real(inv)) });

  const { ack, id } = await s.command('UALICE', 'claim physics');
  t.is(ack.status, 200);
  t.is(ack.text, '');
  t.deepEqual(s.fake.responsesTo(id), [], 'acknowledged before the command has finished');
  release();

  const answer = await s.answer(id);
  const lease = s.h.store.activeLeases({ user: 'alice' })[0]!;
  t.truthy(lease, 'alice@facility.example is the facility account alice');
  t.is(answer.response_type, 'ephemeral');
  t.is(answer.text, `${lease.vm.name} is yours for 2d (expires: Wed 7 Jan, 09:00 UTC)`);
  t.regex(JSON.stringify(answer.blocks), new RegExp(`<!date\\^${Math.floor(lease.expiresAt / 1000)}\\^\\{date_short_pretty\\} \\{time\\}\\|`));
  t.deepEqual(decodeButtonValue(button(answer, 'extend').value), { command: `extend ${lease.vm.name}`, owner: 'alice' });
  // Reminders for it will go to alice's direct messages.
  t.is(lease.platform, 'slack');
  t.is(lease.conversation, 'UALICE');
  t.is(s.fake.callsTo('users.info').length, 1);
});

test('forged signatures and timestamps more than 5 minutes off either way get 401, and nothing happens', async (t) => {
  const s = await setup(t);
  const before = snapshot(s.h);
  const body = slashCommandBody({ user: 'UALICE', text: 'claim physics', responseUrl: s.fake.responseUrl('forged') });
  const attempts = [
    { secret: 'not-the-secret', timestampSec: s.now() },
    { secret: SECRET, timestampSec: s.now(), signature: 'v0=' + '0'.repeat(64) },
    { secret: SECRET, timestampSec: s.now(), signature: 'v1=whatever' },
    { secret: SECRET, timestampSec: s.now() - 301 },
    { secret: SECRET, timestampSec: s.now() + 301 },
  ];
  for (const attempt of attempts) t.is((await postSigned(s.url, body, attempt)).status, 401, JSON.stringify(attempt));
  // Signed for one body, sent with another.
  const other = slashCommandBody({ user: 'UALICE', text: 'release --yes', responseUrl: s.fake.responseUrl('forged') });
  const signedOther = await postSigned(s.url, body, { secret: SECRET, timestampSec: s.now(), signature: sign(SECRET, s.now(), other) });
  t.is(signedOther.status, 401);
  const unsigned = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  t.is(unsigned.status, 401);
  // Within the window both ways it is accepted.
  t.is((await postSigned(s.url, slashCommandBody({ user: 'UALICE', text: 'pools', responseUrl: s.fake.responseUrl('ok') }), { secret: SECRET, timestampSec: s.now() - 299 })).status, 200);
  await s.answer('ok');

  t.deepEqual(snapshot(s.h), before);
  t.deepEqual(s.fake.responsesTo('forged'), []);
});

test('a repeated delivery (same trigger, X-Slack-Retry-Num) is acknowledged but not run again: one claim', async (t) => {
  const s = await setup(t);
  const trigger = newTrigger();
  const first = await s.command('UALICE', 'claim physics', { trigger });
  await s.answer(first.id);
  const body = first.body;
  const again = await postSigned(s.url, body, { secret: SECRET, timestampSec: s.now(), headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
  const replayed = await postSigned(s.url, body, { secret: SECRET, timestampSec: s.now() });
  t.is(again.status, 200);
  t.is(replayed.status, 200);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(s.fake.responsesTo(first.id).length, 1, 'answered once');
  t.is(s.h.store.auditLog().filter((a) => a.action === 'claim').length, 1, 'claimed once, and no refused second claim either');
  t.is(s.h.store.activeLeases({ user: 'alice' }).length, 1);
});

test('buttons: the owner extends and releases, and the card changes in place; a stranger is refused politely, privately', async (t) => {
  const s = await setup(t);
  const claimed = await s.answer((await s.command('UALICE', 'claim physics')).id);
  const lease = s.h.store.activeLeases({ user: 'alice' })[0]!;
  const vm = lease.vm.name;

  // Bob presses alice's Extend (say the card was shared in a channel).
  const byBob = await s.click('UBOB', button(claimed, 'extend'));
  t.is(byBob.ack.status, 200);
  const refusal = await s.answer(byBob.id);
  t.is(refusal.response_type, 'ephemeral');
  t.is(refusal.replace_original, false, 'alice’s card is left alone');
  t.regex(String(refusal.text), /^Sorry, that button is not yours to press/);
  t.regex(JSON.stringify(refusal.blocks), /only its holder can extend or release it/);
  t.is(s.h.store.activeLeases({ user: 'alice' })[0]!.expiresAt, lease.expiresAt, 'not extended');
  t.is(s.h.store.auditLog().filter((a) => a.action === 'extend' && a.result === 'NOT_OWNER').length, 1, 'the core refused it, and audited it');

  // Alice presses Extend: her card is replaced by the extended one.
  const extend = await s.click('UALICE', button(claimed, 'extend'));
  const extended = await s.answer(extend.id);
  t.is(extended.replace_original, true);
  t.is(extended.text, `${vm} extended by 1d (expires: Thu 8 Jan, 09:00 UTC)`);
  t.is(s.h.store.activeLeases({ user: 'alice' })[0]!.expiresAt, lease.expiresAt + 86_400_000);

  // Release (Slack's confirmation dialog accepted): released, card replaced.
  const releaseButton = button(extended, 'release');
  t.truthy((releaseButton as unknown as { confirm?: unknown }).confirm);
  const released = await s.answer((await s.click('UALICE', releaseButton)).id);
  t.is(released.replace_original, true);
  t.regex(String(released.text), new RegExp(`^${vm} released`));
  t.deepEqual(s.h.store.activeLeases({ user: 'alice' }), []);

  // Pressing Release again on the old card: a clear, private error, card left alone.
  const again = await s.answer((await s.click('UALICE', releaseButton)).id);
  t.is(again.replace_original, false);
  t.is(again.response_type, 'ephemeral');
  t.regex(String(again.text), /No VM called .* is claimed at the moment/);
});

test('a user the bot cannot map gets a clear private message naming whom to ask', async (t) => {
  const s = await setup(t);
  const before = snapshot(s.h);
  const eve = await s.answer((await s.command('UEVE', 'claim physics')).id);
  t.is(eve.response_type, 'ephemeral');
  const eveText = JSON.stringify(eve.blocks);
  t.regex(String(eve.text), /not linked to a facility account/);
  t.regex(eveText, /eve@elsewhere\.example\) is not at the facility’s domain \(facility\.example\)/);
  t.true(eveText.includes(CONTACT));
  t.regex(eveText, /UEVE/);

  const nomail = JSON.stringify((await s.answer((await s.command('UNOMAIL', 'status')).id)).blocks);
  t.regex(nomail, /did not share an e-mail address/);
  const unknown = JSON.stringify((await s.answer((await s.command('UGHOST', 'status')).id)).blocks);
  t.regex(unknown, /Slack does not know your user/);
  t.deepEqual(snapshot(s.h), before);

  // The mapping is cached: asking again does not ask Slack again.
  const lookups = s.fake.callsTo('users.info', false).length;
  await s.answer((await s.command('UEVE', 'status')).id);
  t.is(s.fake.callsTo('users.info', false).length, lookups);
});

test('guests, bots and users of other workspaces with facility addresses are refused, naming whom to ask; nothing is claimed', async (t) => {
  const s = await setup(t);
  s.fake.users.set('UGUEST', { email: 'alice@facility.example', is_restricted: true });
  s.fake.users.set('USINGLE', { email: 'alice@facility.example', is_restricted: true, is_ultra_restricted: true });
  s.fake.users.set('UBOTTY', { email: 'alice@facility.example', is_bot: true });
  s.fake.users.set('UFLOW', { email: 'alice@facility.example', is_workflow_bot: true });
  s.fake.users.set('UCONNECT', { email: 'alice@facility.example', team_id: 'T9' });
  s.fake.users.set('WGRID', { email: 'alice@facility.example', team_id: 'T2', enterprise_id: 'E9' });
  const before = snapshot(s.h);
  for (const [user, reason] of [
    ['UGUEST', /You are a guest in this Slack workspace/],
    ['USINGLE', /You are a guest in this Slack workspace/],
    ['UBOTTY', /Bots and apps cannot act for a facility account/],
    ['UFLOW', /Bots and apps cannot act for a facility account/],
    ['UCONNECT', /belongs to another workspace than the one the bot is installed in/],
    ['WGRID', /belongs to another workspace/],
  ] as const) {
    const answer = await s.answer((await s.command(user, 'claim physics')).id);
    t.is(answer.response_type, 'ephemeral');
    t.regex(String(answer.text), /not linked to a facility account/, user);
    const text = JSON.stringify(answer.blocks);
    t.regex(text, reason, user);
    t.true(text.includes(`Ask ${CONTACT} to link your Slack user ${user}`), user);
  }
  t.deepEqual(snapshot(s.h), before, 'no claim, no lease, no VM spent');
  t.deepEqual(s.h.store.activeLeases({ user: 'alice' }), []);
  // An ordinary member who has authorised apps is still a member.
  s.fake.users.set('UAPPUSER', { email: 'bob@facility.example', is_app_user: true });
  t.regex(String((await s.answer((await s.command('UAPPUSER', 'status')).id)).text), /no VM/i);
});

/** An adapter of its own, for identity settings or a workspace other than setup()'s. */
async function adapterWith(t: ExecutionContext, identity: SlackAdapterOptions['identity'], prepare: (fake: FakeSlack) => void) {
  const h = await filledHarness(t);
  const fake = await FakeSlack.start();
  prepare(fake);
  const http = new HttpServer(recordingLogger([]));
  const slack = new SlackAdapter({
    botToken: 'xoxb-test-token',
    signingSecret: SECRET,
    slackApiUrl: fake.apiUrl,
    http,
    dispatch: (inv) => h.app.dispatch(inv),
    identity,
    clock: h.clock,
    log: recordingLogger([]),
    outbound: { clock: new SystemClock(), limits: FAST },
  });
  const address = await http.listen('127.0.0.1', 0);
  await slack.start();
  t.teardown(async () => {
    await slack.stop();
    await http.close();
    await fake.close();
  });
  let answers = 0;
  const command = async (user: string, text: string) => {
    const id = `own${++answers}`;
    const body = slashCommandBody({ user, text, responseUrl: fake.responseUrl(id) });
    await postSigned(`http://127.0.0.1:${address.port}/slack/events`, body, { secret: SECRET, timestampSec: Math.floor(h.clock.now() / 1000) });
    return fake.waitFor(() => fake.responsesTo(id)[0]?.body, `the answer to ${user}`);
  };
  return { h, fake, command };
}

test('a guest mapped by Slack user id is let in as the mapped account', async (t) => {
  const { h, fake, command } = await adapterWith(t, { rule: 'email-local-part', domains: ['facility.example'], map: { UGUEST: 'alice' }, contact: CONTACT }, (f) =>
    f.users.set('UGUEST', { email: 'gus@partner.example', is_restricted: true }),
  );
  t.regex(String((await command('UGUEST', 'claim physics')).text), /is yours for 2d/);
  t.is(h.store.activeLeases({ user: 'alice' }).length, 1);
  t.deepEqual(fake.callsTo('users.info'), [], 'mapped by id: Slack is not even asked');
});

test('Enterprise Grid: users of other workspaces of the installing organisation map by address; other organisations do not', async (t) => {
  const { command } = await adapterWith(t, { rule: 'email-local-part', domains: ['facility.example'], contact: CONTACT }, (f) => {
    f.enterpriseId = 'E1';
    f.users.set('WBOB', { email: 'bob@facility.example', team_id: 'T2', enterprise_id: 'E1' });
    f.users.set('WEVE', { email: 'eve@facility.example', team_id: 'T3', enterprise_id: 'E9' });
  });
  t.regex(String((await command('WBOB', 'status')).text), /no VM/i);
  t.regex(JSON.stringify((await command('WEVE', 'status')).blocks), /belongs to another workspace/);
});

test('a delivery Slack retries after the bot restarted is still recognised: acknowledged, not run again', async (t) => {
  const h = await filledHarness(t);
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  fake.users.set('UALICE', { email: 'alice@facility.example' });
  // Kept by the bot before and after the restart, as the SQLite file is.
  const deliveries = new InMemoryDeliveryLog();
  const startBot = async () => {
    const http = new HttpServer(recordingLogger([]));
    const slack = new SlackAdapter({
      botToken: 'xoxb-test-token',
      signingSecret: SECRET,
      slackApiUrl: fake.apiUrl,
      http,
      dispatch: (inv) => h.app.dispatch(inv),
      identity: { rule: 'email-local-part', domains: ['facility.example'], contact: CONTACT },
      deliveries,
      clock: h.clock,
      log: recordingLogger([]),
      outbound: { clock: new SystemClock(), limits: FAST },
    });
    const address = await http.listen('127.0.0.1', 0);
    await slack.start();
    const stop = async () => {
      await slack.stop();
      await http.close();
    };
    return { url: `http://127.0.0.1:${address.port}/slack/events`, stop };
  };
  const body = slashCommandBody({ user: 'UALICE', text: 'claim physics', responseUrl: fake.responseUrl('once'), trigger: newTrigger() });
  const timestampSec = () => Math.floor(h.clock.now() / 1000);

  const before = await startBot();
  t.is((await postSigned(before.url, body, { secret: SECRET, timestampSec: timestampSec() })).status, 200);
  await fake.waitFor(() => fake.responsesTo('once')[0], 'the answer');
  await before.stop();

  const after = await startBot();
  t.teardown(after.stop);
  const retried = await postSigned(after.url, body, { secret: SECRET, timestampSec: timestampSec(), headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
  t.is(retried.status, 200);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(fake.responsesTo('once').length, 1, 'answered once');
  t.is(h.store.auditLog().filter((a) => a.action === 'claim').length, 1, 'claimed once, and no refused second claim either');
});

test('unknown pools and malformed text get clear private errors', async (t) => {
  const s = await setup(t);
  const typo = await s.answer((await s.command('UALICE', 'claim phisics')).id);
  t.is(typo.response_type, 'ephemeral');
  t.regex(String(typo.text), /There is no pool called "phisics"\. Did you mean physics\?/);
  const odd = await s.answer((await s.command('UALICE', 'claim $(rm -rf /)')).id);
  t.regex(String(odd.text), /is not something the bot understands/);
  const help = await s.answer((await s.command('UALICE', '')).id);
  t.regex(JSON.stringify(help.blocks), /claim/);
});

test('reminders arrive as direct messages (chat.postMessage to the user) with blocks and a notification text', async (t) => {
  const s = await setup(t);
  await s.answer((await s.command('UALICE', 'claim physics')).id);
  const lease = s.h.store.activeLeases({ user: 'alice' })[0]!;
  // To the first reminder (24 h before expiry).
  await s.h.clock.advance(24 * 3_600_000 + 1_000);
  await s.h.tick();
  const [dm] = await s.fake.waitFor(() => s.fake.callsTo('chat.postMessage').length > 0 && s.fake.callsTo('chat.postMessage'), 'a direct message');
  t.is(dm!.body.channel, 'UALICE');
  t.is(dm!.token, 'xoxb-test-token');
  t.regex(String(dm!.body.text), new RegExp(`^${lease.vm.name} will be torn down in 1d \\(expires: Wed 7 Jan, 09:00 UTC\\)$`));
  const blocks = dm!.body.blocks as Record<string, unknown>[];
  t.true(Array.isArray(blocks));
  t.deepEqual(decodeButtonValue(button({ blocks }, 'extend').value), { command: `extend ${lease.vm.name}`, owner: 'alice' });
  t.deepEqual(decodeButtonValue(button({ blocks }, 'release').value), { command: `release ${lease.vm.name} --yes`, owner: 'alice' });
});

test('a 429 with Retry-After delays the message, which then arrives once; {ok:false} is logged and reported, not thrown away', async (t) => {
  const s = await setup(t);
  await s.answer((await s.command('UALICE', 'claim physics')).id);
  const lease = s.h.store.activeLeases({ user: 'alice' })[0]!;
  const pool = s.h.app.service.pool('physics');
  const to = { platform: 'slack', user: 'alice', conversation: 'UALICE' };

  s.fake.answerNext('chat.postMessage', { status: 429, retryAfter: 1 });
  const started = Date.now();
  await s.slack.notify(to, reminderMessage(lease, pool, s.h.clock.now()));
  const attempts = s.fake.callsTo('chat.postMessage', false);
  t.is(attempts.length, 2);
  t.is(attempts[0]!.status, 429);
  t.true(attempts[1]!.at - attempts[0]!.at >= 990, `waited ${attempts[1]!.at - attempts[0]!.at} ms`);
  t.true(Date.now() - started >= 990);
  t.is(s.fake.callsTo('chat.postMessage').length, 1, 'delivered once');

  s.fake.answerNext('chat.postMessage', { error: 'messages_tab_disabled' });
  const error = await t.throwsAsync(s.slack.notify(to, reminderMessage(lease, pool, s.h.clock.now())));
  t.regex(error!.message, /Slack did not deliver the message to alice: messages_tab_disabled/);
  t.true(s.logs.some((l) => l.level === 'warn' && (l.fields as { slackError?: string }).slackError === 'messages_tab_disabled'));
  // Through the outbox, a refused delivery is recorded as failed, not tried again, and the bot carries on.
  s.fake.answerNext('chat.postMessage', { error: 'account_inactive' });
  await s.h.clock.advance(24 * 3_600_000 + 1_000);
  await s.h.tick();
  t.is(s.h.store.activeLeases({ user: 'alice' }).length, 1);
  t.deepEqual(s.h.store.outboxMessages({ leaseId: lease.id }).filter((m) => m.kind === 'reminder').map((m) => [m.status, m.attempts]), [['failed', 1]]);
  t.true(s.logs.some((l) => (l.fields as { slackError?: string }).slackError === 'account_inactive'));
});

test('App Home: published on app_home_opened with my VMs and the pools I may claim, and again when my leases change', async (t) => {
  const s = await setup(t);
  const home = async (n: number) => {
    const calls = await s.fake.waitFor(() => s.fake.callsTo('views.publish').length >= n && s.fake.callsTo('views.publish'), `views.publish #${n}`);
    return calls[n - 1]!.body;
  };
  const opened = await postSigned(s.url, eventBody({ type: 'app_home_opened', user: 'UALICE', channel: 'D1', tab: 'home', event_ts: '1.1' }, 'Ev1', s.now()), { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' });
  t.is(opened.status, 200);
  const first = await home(1);
  t.is(first.user_id, 'UALICE');
  const view = first.view as { type: string; blocks: unknown[] };
  t.is(view.type, 'home');
  const shown = JSON.stringify(view.blocks);
  t.regex(shown, /You have no VM at the moment/);
  t.regex(shown, /\*physics\*\\n3 ready · 0 in use · max 6 · lease 2d/);
  t.notRegex(shown, /\*imaging\*/, 'only pools alice may claim');

  // A claim from the slash command republishes the Home tab with the new VM's card.
  await s.answer((await s.command('UALICE', 'claim physics')).id);
  const vm = s.h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const second = JSON.stringify((await home(2)).view);
  t.true(second.includes(vm));
  t.regex(second, /2 ready · 1 in use · max 6/);

  // The Claim and Release buttons work from the Home tab: the outcome shows at its top.
  const homeRelease = button({ blocks: ((await home(2)).view as { blocks: Record<string, unknown>[] }).blocks }, 'release');
  const clicked = await s.click('UALICE', homeRelease, { type: 'view', view_id: 'V1' });
  t.is(clicked.ack.status, 200);
  const third = JSON.stringify((await home(3)).view);
  t.regex(third, new RegExp(`${vm} released`));
  t.deepEqual(s.h.store.activeLeases({ user: 'alice' }), []);

  // A repeated event delivery publishes nothing more.
  const count = s.fake.callsTo('views.publish').length;
  await postSigned(s.url, eventBody({ type: 'app_home_opened', user: 'UALICE', channel: 'D1', tab: 'home', event_ts: '1.1' }, 'Ev1', s.now()), { secret: SECRET, timestampSec: s.now(), contentType: 'application/json', headers: { 'x-slack-retry-num': '1' } });
  await s.slack.refreshHomeOf('nobody');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(s.fake.callsTo('views.publish').length, count);

  // A lease change elsewhere (the lead calls refreshHomeOf): published again.
  await s.slack.refreshHomeOf('alice');
  t.is(s.fake.callsTo('views.publish').length, count + 1);
});

test('one change, one Home refresh: a claim, an extension from a card and a release from the Home tab each publish the Home tab once', async (t) => {
  const s = await setup(t);
  const publishes = () => s.fake.callsTo('views.publish').length;
  /** Waits for the `n`th publication, then long enough for a second one to show if there were one. */
  const settled = async (n: number) => {
    await s.fake.waitFor(() => publishes() >= n, `views.publish #${n}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    return publishes();
  };
  await postSigned(s.url, eventBody({ type: 'app_home_opened', user: 'UALICE', channel: 'D1', tab: 'home', event_ts: '2.1' }, 'EvOne', s.now()), { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' });
  t.is(await settled(1), 1);

  const claimed = await s.answer((await s.command('UALICE', 'claim physics')).id);
  t.is(await settled(2), 2, 'the claim refreshed the Home tab once');
  const vm = s.h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  t.true(JSON.stringify(s.fake.callsTo('views.publish')[1]!.body.view).includes(vm));

  await s.answer((await s.click('UALICE', button(claimed, 'extend'))).id);
  t.is(await settled(3), 3, 'the extension refreshed it once');

  const homeBlocks = (s.fake.callsTo('views.publish')[2]!.body.view as { blocks: Record<string, unknown>[] }).blocks;
  await s.click('UALICE', button({ blocks: homeBlocks }, 'release'), { type: 'view', view_id: 'V1' });
  t.is(await settled(4), 4, 'the release from the Home tab published it once, with the outcome on top');
  t.regex(JSON.stringify(s.fake.callsTo('views.publish')[3]!.body.view), new RegExp(`${vm} released`));
  t.deepEqual(s.h.store.activeLeases({ user: 'alice' }), []);

  // A refusal changes nothing, so nothing is republished.
  await s.answer((await s.command('UALICE', 'extend nosuchvm')).id);
  t.is(await settled(4), 4);
});

test('stopping: a command acknowledged before the stop is still answered; the queue stops after it', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const s = await setup(t, { dispatch: async (inv, real) => (started(), await gate, real(inv)) });
  const { ack, id } = await s.command('UALICE', 'pools');
  t.is(ack.status, 200);
  await running;
  const stopped = s.slack.stop();
  release();
  await stopped;
  const answer = s.fake.responsesTo(id)[0]?.body;
  t.truthy(answer, 'answered before the stop completed');
  t.regex(String(answer?.text), /Pools/);
});

test('a direct message does not republish the Home tab: the change it announces republishes it, once', async (t) => {
  const s = await setup(t);
  await postSigned(s.url, eventBody({ type: 'app_home_opened', user: 'UALICE', channel: 'D1', tab: 'home', event_ts: '3.1' }, 'EvDm', s.now()), { secret: SECRET, timestampSec: s.now(), contentType: 'application/json' });
  await s.fake.waitFor(() => s.fake.callsTo('views.publish').length === 1, 'the Home tab');
  await s.slack.notify({ platform: 'slack', user: 'alice', conversation: 'UALICE' }, reply('warning', 'physics-abcd will be torn down in 10m'));
  t.deepEqual(s.fake.callsTo('chat.postMessage').map((c) => c.body.channel), ['UALICE']);
  // The change behind a message refreshes the Home tab (lease changes, from the core or the
  // scheduler): once. Had the message refreshed it too, this would merge into that refresh and
  // publish twice.
  await s.slack.refreshHomeOf('alice');
  t.is(s.fake.callsTo('views.publish').length, 2);
});

test('figures: slash-command ack latency, and reminder throughput under the default rate limit', async (t) => {
  const s = await setup(t, { limits: { clock: new SystemClock() } });
  const acks: number[] = [];
  for (let i = 0; i < 200; i++) acks.push((await s.command('UALICE', 'pools')).ack.ms);
  acks.sort((a, b) => a - b);
  const median = acks[Math.floor(acks.length / 2)]!;
  const p99 = acks[Math.floor(acks.length * 0.99)]!;
  t.log(`ack latency over ${acks.length} signed /daaas pools: median ${median.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
  t.true(p99 < 3_000);
  await s.fake.waitFor(() => s.fake.responses.length >= 200, 'every answer', 20_000);

  // 20 reminders to 20 users with Slack's default chat.postMessage limit (burst 10, then 5/s).
  const users = Array.from({ length: 20 }, (_, i) => `UR${i}`);
  await s.answer((await s.command('UALICE', 'claim physics')).id);
  const lease = s.h.store.activeLeases({ user: 'alice' })[0]!;
  const pool = s.h.app.service.pool('physics');
  const started = Date.now();
  await Promise.all(users.map((u) => s.slack.notify({ platform: 'slack', user: u.toLowerCase(), conversation: u }, reminderMessage(lease, pool, s.h.clock.now()))));
  const seconds = (Date.now() - started) / 1000;
  t.log(`20 reminders in ${seconds.toFixed(2)} s (${(20 / seconds).toFixed(1)}/s; limit burst 10 then 5/s)`);
  t.deepEqual(s.fake.callsTo('chat.postMessage').map((c) => String(c.body.channel)).sort(), [...users].sort());
  t.true(seconds >= 1.8, 'the rate limit was kept');
});

test('Socket Mode with an app token: connects through apps.connections.open at SLACK_API_URL, runs commands, acks envelopes; no HTTP endpoint', async (t) => {
  const h = await filledHarness(t);
  const fake = await FakeSlack.start();
  fake.users.set('UALICE', { email: 'alice@facility.example' });
  const http = new HttpServer(recordingLogger([]));
  const slack = new SlackAdapter({
    botToken: 'xoxb-test-token',
    appToken: 'xapp-test-token',
    slackApiUrl: fake.apiUrl.replace(/\/$/, ''),
    dispatch: (inv) => h.app.dispatch(inv),
    identity: { rule: 'email-local-part', contact: CONTACT },
    clock: h.clock,
    log: recordingLogger([]),
    outbound: { clock: new SystemClock(), limits: FAST },
  });
  t.teardown(async () => {
    await slack.stop();
    await http.close();
    await fake.close();
  });
  t.is(slack.mode, 'socket');
  await slack.start();
  t.deepEqual(fake.callsTo('apps.connections.open').map((c) => c.token), ['xapp-test-token']);
  t.is(fake.socketConnections, 1);

  const payload = Object.fromEntries(new URLSearchParams(slashCommandBody({ user: 'UALICE', text: 'claim physics', responseUrl: fake.responseUrl('sock') })));
  fake.sendEnvelope({ envelope_id: 'env-1', type: 'slash_commands', payload, accepts_response_payload: true });
  const acked = await fake.waitFor(() => fake.socketMessages.find((m) => m.envelope_id === 'env-1'), 'the envelope ack');
  t.truthy(acked);
  const answer = await fake.waitFor(() => fake.responsesTo('sock')[0]?.body, 'the answer');
  t.is(answer.response_type, 'ephemeral');
  t.is(h.store.activeLeases({ user: 'alice' }).length, 1);

  // The same envelope delivered again (Slack retries unacknowledged ones): acknowledged, not run.
  fake.sendEnvelope({ envelope_id: 'env-2', type: 'slash_commands', payload, accepts_response_payload: true, retry_attempt: 1 });
  await fake.waitFor(() => fake.socketMessages.find((m) => m.envelope_id === 'env-2'), 'the second ack');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(fake.responsesTo('sock').length, 1);

  // HTTP mode is not mounted.
  const address = await http.listen('127.0.0.1', 0);
  t.is((await fetch(`http://127.0.0.1:${address.port}/slack/events`, { method: 'POST', body: '' })).status, 404);
});

test('configuration mistakes are reported plainly', async (t) => {
  const h = await filledHarness(t);
  const base = { botToken: 'xoxb-x', dispatch: (inv: Invocation) => h.app.dispatch(inv), identity: { rule: 'email-local-part' as const, contact: CONTACT }, clock: h.clock, log: recordingLogger([]) };
  t.throws(() => new SlackAdapter({ ...base, http: new HttpServer(recordingLogger([])) }), { message: /SLACK_SIGNING_SECRET/ });
  t.throws(() => new SlackAdapter({ ...base, botToken: '', appToken: 'xapp-x' }), { message: /SLACK_BOT_TOKEN/ });
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  fake.answerNext('auth.test', { error: 'invalid_auth' });
  const http = new HttpServer(recordingLogger([]));
  const slack = new SlackAdapter({ ...base, signingSecret: SECRET, http, slackApiUrl: fake.apiUrl });
  await t.throwsAsync(slack.start(), { message: 'Slack did not accept the bot token (SLACK_BOT_TOKEN): invalid_auth' });
  await slack.stop();
});

test('a Slack that does not answer at start is reported as unreachable, not as a refused token', async (t) => {
  const h = await filledHarness(t);
  // A port that was just free: nothing listens there, so the connection is refused.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const slack = new SlackAdapter({
    botToken: 'xoxb-x',
    signingSecret: SECRET,
    http: new HttpServer(recordingLogger([])),
    slackApiUrl: `http://127.0.0.1:${port}/api/`,
    dispatch: (inv: Invocation) => h.app.dispatch(inv),
    identity: { rule: 'map-only' as const, contact: CONTACT },
    clock: h.clock,
    log: recordingLogger([]),
  });
  const error = await t.throwsAsync(slack.start());
  t.regex(error!.message, /^cannot reach Slack \(ECONNREFUSED\)/);
  t.notRegex(error!.message, /did not accept the bot token/);
  await slack.stop();
});

test('an alert to the configured Slack channel is posted in that channel, not to a user', async (t) => {
  const s = await setup(t);
  const alert = { id: 1, kind: 'circuit-open' as const, pool: 'physics', subject: '', status: 'open' as const, since: 0, raisedAt: 0, lastSentAt: 0, sent: 1, resolvedAt: null, detail: 'physics stopped booting' };
  await s.slack.notify({ platform: 'slack', user: '#alerts', conversation: 'C0ALERTS' }, alertBody(alert, { stage: 'raised' }, 60_000));
  const posted = s.fake.callsTo('chat.postMessage');
  t.is(posted.length, 1);
  t.is(posted[0]!.body.channel, 'C0ALERTS');
  t.regex(String(posted[0]!.body.text), /^ALERT: pool failing \(circuit open\): physics/);
});
