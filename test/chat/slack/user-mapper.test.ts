import test from 'ava';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { UserMapper, type IdentityRules, type SlackProfile } from '../../../src/chat/slack/user-mapper.ts';
import { silentLogger } from '../../../src/ports/logger.ts';

const CONTACT = 'the DAaaS team (daaas@facility.example)';

function mapper(rules: Partial<IdentityRules>, profiles: Record<string, SlackProfile | Error>) {
  const clock = new ManualClock();
  const lookups: string[] = [];
  const m = new UserMapper({
    rules: { rule: 'email-local-part', contact: CONTACT, ...rules },
    clock,
    log: silentLogger,
    lookup: async (id) => {
      lookups.push(id);
      const profile = profiles[id];
      if (profile instanceof Error) throw profile;
      return profile;
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

test('the whole address can be the account', async (t) => {
  const { m } = mapper({ rule: 'email' }, { U1: { email: 'Jane@Facility.example' } });
  t.deepEqual(await m.resolve('U1'), { ok: true, account: 'jane@facility.example' });
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
