import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { accountFromAddress, IdentityCache, type Identity } from '../../src/chat/identity.ts';

const WHAT = 'Your address';

test('an address gives its local part, at the allowed domains only', (t) => {
  t.deepEqual(accountFromAddress('jane.doe@facility.example', { domains: [], what: WHAT }), { ok: true, account: 'jane.doe' });
  t.deepEqual(accountFromAddress('jane.doe@lab.facility.example', { domains: ['Facility.example'], what: WHAT }), { ok: true, account: 'jane.doe' });
  t.deepEqual(accountFromAddress('eve@elsewhere.example', { domains: ['facility.example'], what: WHAT }), {
    ok: false,
    reason: 'Your address (eve@elsewhere.example) is not at the facility’s domain (facility.example).',
  });
  t.deepEqual(accountFromAddress('eve@evilfacility.example', { domains: ['facility.example'], what: WHAT }).ok, false, 'a domain, not a suffix of a name');
  t.like(accountFromAddress('no-at-sign', { domains: [], what: WHAT }), { ok: false, reason: 'Your address (no-at-sign) is not one the bot can read.' });
  t.like(accountFromAddress('$(id)@facility.example', { domains: [], what: WHAT }), { ok: false, reason: 'Your address ($(id)@facility.example) does not give a facility account name the bot can use.' });
});

test('the local part must be an account name by the bot’s one rule (what Ansible accepts too)', (t) => {
  for (const ok of ['jane.doe', 'j_doe', 'jdoe-2', '_svc']) t.true(accountFromAddress(`${ok}@facility.example`, { domains: [], what: WHAT }).ok, ok);
  for (const bad of ['1jane', '.jane', '-jane', 'jane+lab', 'Jane', 'a'.repeat(33), "o'brien"]) t.false(accountFromAddress(`${bad}@facility.example`, { domains: [], what: WHAT }).ok, bad);
});

test('answers are cached (failures briefly), looked up once at a time, and each account knows its users', async (t) => {
  const clock = new ManualClock();
  const cache = new IdentityCache({ clock, ttlMs: 60_000, negativeTtlMs: 1_000 });
  let calls = 0;
  const answer = (identity: Identity) => async () => {
    calls++;
    return identity;
  };
  const [a, b] = await Promise.all([cache.resolve('U1', answer({ ok: true, account: 'alice' })), cache.resolve('U1', answer({ ok: true, account: 'alice' }))]);
  t.deepEqual([a, b, calls], [{ ok: true, account: 'alice' }, { ok: true, account: 'alice' }, 1]);
  await cache.resolve('U2', answer({ ok: true, account: 'alice' }));
  t.deepEqual(cache.usersOf('alice'), ['U1', 'U2']);
  await cache.resolve('U3', answer({ ok: false, reason: 'unknown' }));
  await clock.advance(1_001);
  await cache.resolve('U3', answer({ ok: false, reason: 'unknown' }));
  await cache.resolve('U1', answer({ ok: true, account: 'alice' }));
  t.is(calls, 4, 'the failure was asked again after its short life; the success was not');
  await t.throwsAsync(cache.resolve('U4', async () => { throw new Error('platform down'); }));
  await cache.resolve('U4', answer({ ok: true, account: 'bob' }));
  t.deepEqual(cache.usersOf('bob'), ['U4'], 'a transient failure is not remembered');
});
