import test from 'ava';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { TeamsUserMapper, userKeyOf, type TeamsIdentityRules, type TeamsMember, type TeamsUser } from '../../../src/chat/teams/user-mapper.ts';
import { silentLogger } from '../../../src/ports/logger.ts';

const CONTACT = 'the DAaaS team (daaas@facility.example)';
const JANE: TeamsUser = { id: '29:1jane', aadObjectId: 'A1B2C3D4-0000-4000-8000-00000000000A' };

function mapper(rules: Partial<TeamsIdentityRules> = {}) {
  const clock = new ManualClock();
  return { clock, m: new TeamsUserMapper({ rules: { contact: CONTACT, ...rules }, clock, log: silentLogger }) };
}

const member = (m: TeamsMember) => async () => m;

test('by default the UPN’s local part is the account (the e-mail address when there is no UPN)', async (t) => {
  const { m } = mapper({ domains: ['facility.example'] });
  t.deepEqual(await m.resolve(JANE, member({ userPrincipalName: 'Jane.Doe@Facility.Example', email: 'jd@facility.example' })), { ok: true, account: 'jane.doe' });
  const { m: m2 } = mapper();
  t.deepEqual(await m2.resolve(JANE, member({ email: 'jd@lab.facility.example' })), { ok: true, account: 'jd' });
  const { m: m3 } = mapper({ rule: 'email-local-part' });
  t.deepEqual(await m3.resolve(JANE, member({ userPrincipalName: 'jane.doe@facility.example', email: 'jd@facility.example' })), { ok: true, account: 'jd' });
});

test('map keys: Teams user ids (29:…) exactly as written; object ids, UPNs and e-mail addresses in any case', async (t) => {
  const { m } = mapper({
    rule: 'map-only',
    map: { '29:1AbC': 'exact', 'A1B2C3D4-0000-4000-8000-00000000000A': 'jdoe', 'Wendy.Smith@Facility.example': 'wsmith', ' SAM@facility.example ': 'sam' },
  });
  t.deepEqual(await m.resolve({ id: '29:1AbC' }, member({})), { ok: true, account: 'exact' });
  t.like(await m.resolve({ id: '29:1abc' }, member({})), { ok: false }, 'another Teams user');
  t.deepEqual(await m.resolve(JANE, member({})), { ok: true, account: 'jdoe' });
  t.deepEqual(await m.resolve({ id: '29:1w', aadObjectId: 'w-oid' }, member({ userPrincipalName: 'wendy.smith@facility.example' })), { ok: true, account: 'wsmith' });
  t.deepEqual(await m.resolve({ id: '29:1s', aadObjectId: 's-oid' }, member({ email: 'Sam@Facility.Example' })), { ok: true, account: 'sam' });
});

test('an account from the map follows the one account-name rule; dotted names are accounts', async (t) => {
  const { m } = mapper({ map: { '29:1bad': 'Bad Name', '29:1ok': 'jane.doe' } });
  t.like(await m.resolve({ id: '29:1bad' }, member({})), { ok: false, reason: 'The bot’s list of users gives you an account name the bot cannot use ("Bad Name").' });
  t.deepEqual(await m.resolve({ id: '29:1ok' }, member({})), { ok: true, account: 'jane.doe' });
  t.like(await m.resolve({ id: '29:1d' }, member({ userPrincipalName: '9lives@facility.example' })), { ok: false });
});

test('the explicit map wins, by Entra object id (no look-up needed), Teams id or address', async (t) => {
  let lookups = 0;
  const counting = (m: TeamsMember) => async () => (lookups++, m);
  const { m } = mapper({ rule: 'map-only', map: { 'a1b2c3d4-0000-4000-8000-00000000000a': 'jdoe', '29:1other': 'other', 'Sam@Facility.example': 'sam' } });
  t.deepEqual(await m.resolve(JANE, counting({})), { ok: true, account: 'jdoe' });
  t.is(lookups, 0);
  t.deepEqual(await m.resolve({ id: '29:1other' }, counting({})), { ok: true, account: 'other' });
  t.deepEqual(await m.resolve({ id: '29:1sam', aadObjectId: 'sam-oid' }, counting({ userPrincipalName: 'sam@facility.example' })), { ok: true, account: 'sam' });
  const refused = await m.resolve({ id: '29:1nobody', aadObjectId: 'nobody-oid' }, counting({ userPrincipalName: 'nobody@facility.example' }));
  t.deepEqual(refused, { ok: false, reason: 'Your Teams account is not in the bot’s list of users.' });
  t.deepEqual(m.userKeysOf('jdoe'), ['a1b2c3d4-0000-4000-8000-00000000000a']);
});

test('guests, other domains, missing addresses and unusable names are refused with a reason', async (t) => {
  const { m } = mapper({ domains: ['facility.example'] });
  const reason = async (u: TeamsUser, mem: TeamsMember | undefined) => {
    const r = await m.resolve(u, async () => mem);
    return r.ok ? r.account : r.reason;
  };
  t.regex(await reason({ id: '29:1g' }, { userPrincipalName: 'gus_partner.example#EXT#@facility.example' }), /guest/);
  t.regex(await reason({ id: '29:1g2' }, { userPrincipalName: 'gus@facility.example', userRole: 'guest' }), /guest/);
  t.regex(await reason({ id: '29:1e' }, { userPrincipalName: 'eve@elsewhere.example' }), /eve@elsewhere\.example\) is not at the facility’s domain/);
  t.regex(await reason({ id: '29:1n' }, { name: 'No Address' }), /did not share your user principal name or e-mail/);
  t.regex(await reason({ id: '29:1u' }, undefined), /Teams does not know your user/);
  t.regex(await reason({ id: '29:1x' }, { userPrincipalName: '-weird!@facility.example' }), /does not give a facility account name/);
  const { m: guests } = mapper({ allowGuests: true });
  t.deepEqual(await guests.resolve({ id: '29:1g3' }, member({ email: 'gus@partner.example', userRole: 'guest' })), { ok: true, account: 'gus' });
});

test('answers are cached (failures briefly); transient look-up failures are not', async (t) => {
  const { m, clock } = mapper({ cacheTtlMs: 60_000, negativeTtlMs: 5_000 });
  let calls = 0;
  const flaky = async (): Promise<TeamsMember> => {
    calls++;
    if (calls === 1) throw new Error('connector down');
    return { userPrincipalName: calls === 2 ? 'bad name@facility.example' : 'jane@facility.example' };
  };
  await t.throwsAsync(m.resolve(JANE, flaky));
  t.false((await m.resolve(JANE, flaky)).ok);
  t.false((await m.resolve(JANE, flaky)).ok, 'the failure is remembered for a while');
  t.is(calls, 2);
  await clock.advance(5_000);
  t.deepEqual(await m.resolve(JANE, flaky), { ok: true, account: 'jane' });
  await Promise.all([m.resolve(JANE, flaky), m.resolve(JANE, flaky)]);
  t.is(calls, 3);
});

test('the unmapped answer names the user and whom to ask; user keys are Entra object ids when known', (t) => {
  const { m } = mapper();
  const answer = m.unmappedReply(JANE, 'Because.');
  t.is(answer.tone, 'error');
  t.regex(JSON.stringify(answer), /Ask the DAaaS team \(daaas@facility\.example\) to link your account \(Entra object id A1B2C3D4/);
  t.is(userKeyOf(JANE), 'a1b2c3d4-0000-4000-8000-00000000000a');
  t.is(userKeyOf({ id: '29:1x' }), '29:1x');
});
