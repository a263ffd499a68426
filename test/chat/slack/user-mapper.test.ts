import test from 'ava';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { SlackUserMapper, type SlackIdentityRules, type SlackProfile, type SlackWorkspace } from '../../../src/chat/slack/user-mapper.ts';
import { silentLogger } from '../../../src/ports/logger.ts';

const CONTACT = 'the DAaaS team (daaas@facility.example)';

/** Profiles are of the installing workspace (T1) unless they say otherwise, as most users are. */
function mapper(rules: Partial<SlackIdentityRules>, profiles: Record<string, SlackProfile | Error>, workspace: SlackWorkspace | null = { teamId: 'T1' }) {
  const clock = new ManualClock();
  const lookups: string[] = [];
  const m = new SlackUserMapper({
    rules: { rule: 'email-local-part', contact: CONTACT, ...rules },
    clock,
    log: silentLogger,
    workspace: () => workspace ?? undefined,
    lookup: async (id) => {
      lookups.push(id);
      const profile = profiles[id];
      if (profile instanceof Error) throw profile;
      return profile && { teamId: 'T1', ...profile };
    },
  });
  return { m, clock, lookups };
}

test('the e-mail local part is the account by default; domains may be restricted (subdomains included)', async (t) => {
  const { m } = mapper({ domains: ['facility.example'] }, {
    U1: { email: 'Jane.Doe@Facility.Example' },
    U2: { email: 'bob@mail.facility.example' },
    U3: { email: 'eve@elsewhere.example' },
    U4: { email: 'o\'brien@facility.example' },
    U5: {},
    U6: { email: 'x@facility.example', deleted: true },
    U7: { email: 'bot@facility.example', isBot: true },
  });
  t.deepEqual(await m.resolve('U1'), { ok: true, account: 'jane.doe' });
  t.deepEqual(await m.resolve('U2'), { ok: true, account: 'bob' });
  t.like(await m.resolve('U3'), { ok: false, reason: 'Your Slack e-mail address (eve@elsewhere.example) is not at the facility’s domain (facility.example).' });
  t.like(await m.resolve('U4'), { ok: false });
  t.like(await m.resolve('U5'), { ok: false, reason: 'Slack did not share an e-mail address for you with the bot.' });
  t.like(await m.resolve('U6'), { ok: false, reason: 'Your Slack account is deactivated.' });
  t.like(await m.resolve('U7'), { ok: false });
  t.like(await m.resolve('U404'), { ok: false, reason: 'Slack does not know your user.' });
});

test('the explicit map wins, by Slack user id (without asking Slack) or by e-mail; map-only knows nobody else', async (t) => {
  const { m, lookups } = mapper({ rule: 'map-only', map: { UADMIN: 'root', 'Carol@Partner.example': 'carol' } }, { UC: { email: 'carol@partner.example' }, UD: { email: 'dave@facility.example' } });
  t.deepEqual(await m.resolve('UADMIN'), { ok: true, account: 'root' });
  t.deepEqual(lookups, []);
  t.deepEqual(await m.resolve('UC'), { ok: true, account: 'carol' });
  t.like(await m.resolve('UD'), { ok: false, reason: 'Your Slack account is not in the bot’s list of users.' });
});

test('guests, bots, deactivated users and users of other workspaces are refused, whatever their address, unless mapped by Slack user id', async (t) => {
  const profiles: Record<string, SlackProfile> = {
    UGUEST: { email: 'alice@facility.example', restricted: true },
    USINGLE: { email: 'alice@facility.example', restricted: true, ultraRestricted: true },
    UBOT: { email: 'alice@facility.example', isBot: true },
    UGONE: { email: 'alice@facility.example', deleted: true },
    UCONNECT: { email: 'alice@facility.example', teamId: 'T9' },
    UOTHER: { email: 'alice@facility.example', teamId: 'T9' },
    UNOTEAM: { email: 'alice@facility.example', teamId: undefined },
    UGUESTBYMAIL: { email: 'carol@facility.example', restricted: true },
  };
  const { m } = mapper({ domains: ['facility.example'], map: { UGUEST: 'gus', UCONNECT: 'connie', 'carol@facility.example': 'carol' } }, profiles);
  const reason = async (id: string) => {
    const identity = await m.resolve(id);
    return identity.ok ? `account ${identity.account}` : identity.reason;
  };
  t.is(await reason('UGUEST'), 'account gus', 'mapped by hand, by Slack user id');
  t.is(await reason('UCONNECT'), 'account connie');
  t.regex(await reason('USINGLE'), /^You are a guest in this Slack workspace; guests are linked to facility accounts only by hand\.$/);
  t.regex(await reason('UBOT'), /^Bots and apps cannot act for a facility account\.$/);
  t.is(await reason('UGONE'), 'Your Slack account is deactivated.');
  const other = 'Your Slack account belongs to another workspace than the one the bot is installed in; such users are linked to facility accounts only by hand.';
  t.is(await reason('UOTHER'), other);
  t.is(await reason('UNOTEAM'), other);
  t.regex(await reason('UGUESTBYMAIL'), /guest/, 'an e-mail address in the map does not let a guest in: only the Slack user id does');
});

test('Enterprise Grid: users of the installing organisation are its own; other organisations are not', async (t) => {
  const { m } = mapper(
    { domains: ['facility.example'] },
    {
      WJANE: { email: 'jane@facility.example', teamId: 'T2', enterpriseId: 'E1' },
      WORG: { email: 'olga@facility.example', teamId: 'E1' },
      WEVE: { email: 'eve@facility.example', teamId: 'T9', enterpriseId: 'E9' },
    },
    { teamId: 'T1', enterpriseId: 'E1' },
  );
  t.deepEqual(await m.resolve('WJANE'), { ok: true, account: 'jane' });
  t.deepEqual(await m.resolve('WORG'), { ok: true, account: 'olga' });
  t.like(await m.resolve('WEVE'), { ok: false });
  const { m: plain } = mapper({}, { U1: { email: 'jane@facility.example', teamId: 'T2', enterpriseId: 'E1' } });
  t.like(await plain.resolve('U1'), { ok: false }, 'without an organisation, only the workspace itself');
});

test('a bot that does not know its workspace yet maps nobody by address (and does not remember that)', async (t) => {
  const { m, lookups } = mapper({}, { U1: { email: 'jane@facility.example' } }, null);
  await t.throwsAsync(m.resolve('U1'), { message: /workspace/ });
  await t.throwsAsync(m.resolve('U1'));
  t.deepEqual(lookups, ['U1', 'U1']);
});

test('map keys: Slack user ids exactly as written, everything else in any case (Wendy.Smith@… matches, even though it starts with W)', async (t) => {
  const { m } = mapper(
    { rule: 'map-only', map: { W0123ABC: 'wendy', 'Wendy.Smith@Facility.example': 'wsmith', ' Ursula@Facility.Example ': 'ursula' } },
    { U77: { email: 'wendy.smith@facility.example' }, U78: { email: 'URSULA@facility.example' }, W0123ABD: { email: 'w0123abc@facility.example' } },
  );
  t.deepEqual(await m.resolve('W0123ABC'), { ok: true, account: 'wendy' });
  t.deepEqual(await m.resolve('U77'), { ok: true, account: 'wsmith' });
  t.deepEqual(await m.resolve('U78'), { ok: true, account: 'ursula' });
  t.like(await m.resolve('W0123ABD'), { ok: false });
});

test('an account from the map or from an address follows the one account-name rule; dotted names are accounts', async (t) => {
  const { m } = mapper({ map: { U1: 'Bad Name', U2: 'jane.doe', 'x@facility.example': '-rf' } }, { U3: { email: 'x@facility.example' }, U4: { email: '1jane@facility.example' }, U5: { email: 'j.doe@facility.example' } });
  t.like(await m.resolve('U1'), { ok: false, reason: 'The bot’s list of users gives you an account name the bot cannot use ("Bad Name").' });
  t.deepEqual(await m.resolve('U2'), { ok: true, account: 'jane.doe' });
  t.like(await m.resolve('U3'), { ok: false });
  t.like(await m.resolve('U4'), { ok: false, reason: 'Your Slack e-mail address (1jane@facility.example) does not give a facility account name the bot can use.' });
  t.deepEqual(await m.resolve('U5'), { ok: true, account: 'j.doe' });
});

test('answers are cached for the TTL; failures for less; transient errors not at all; look-ups in flight are shared', async (t) => {
  const profiles: Record<string, SlackProfile | Error> = { U1: { email: 'alice@facility.example' }, U2: { email: 'eve@elsewhere.example' }, U3: new Error('socket hang up') };
  const { m, clock, lookups } = mapper({ domains: ['facility.example'], cacheTtlMs: 3_600_000, negativeTtlMs: 60_000 }, profiles);
  await Promise.all([m.resolve('U1'), m.resolve('U1'), m.resolve('U1')]);
  t.deepEqual(lookups, ['U1']);
  await m.resolve('U2');
  await clock.advance(59_000);
  await m.resolve('U1');
  await m.resolve('U2');
  t.deepEqual(lookups, ['U1', 'U2']);
  await clock.advance(2_000);
  await m.resolve('U2');
  t.deepEqual(lookups, ['U1', 'U2', 'U2'], 'a failed mapping is asked again soon (an admin may have fixed it)');
  await clock.advance(3_600_000);
  await m.resolve('U1');
  t.deepEqual(lookups, ['U1', 'U2', 'U2', 'U1']);

  await t.throwsAsync(m.resolve('U3'));
  profiles.U3 = { email: 'carol@facility.example' };
  t.deepEqual(await m.resolve('U3'), { ok: true, account: 'carol' });
});

test('the way back: which Slack users hold an account; the unmapped reply names whom to ask', async (t) => {
  const { m } = mapper({}, { U1: { email: 'alice@a.example' }, U2: { email: 'alice@b.example' } });
  await m.resolve('U1');
  await m.resolve('U2');
  t.deepEqual(m.slackUsersOf('alice'), ['U1', 'U2']);
  t.deepEqual(m.slackUsersOf('bob'), []);
  const message = m.unmappedReply('U9', 'Slack did not share an e-mail address for you with the bot.');
  t.is(message.tone, 'error');
  t.regex(JSON.stringify(message), new RegExp(`Ask ${CONTACT.replace(/[()]/g, '\\$&')} to link your Slack user U9`));
});
