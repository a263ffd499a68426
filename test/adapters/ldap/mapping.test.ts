/** The presets and the account-expiry rules, on entries made by hand: no directory needed. */
import test from 'ava';
import type { LdapEntry } from '../../../src/adapters/ldap/ldapts-connection.ts';
import { accountDisabled, expiryAttributes, PRESETS } from '../../../src/adapters/ldap/mapping.ts';

const DAY = 86_400_000;
const entry = (attributes: Record<string, string[]>): LdapEntry => ({ dn: 'CN=Jane Doe,OU=People,DC=facility,DC=example', attributes });

test('Active Directory: userAccountControl bit 2 disables; accountExpires in the past expires; 0 and 2^63-1 never expire', (t) => {
  const now = Date.UTC(2026, 0, 5);
  const at = (uac: string, expires = '0') => accountDisabled('active-directory', entry({ useraccountcontrol: [uac], accountexpires: [expires] }), now);
  t.is(at('512'), null, 'NORMAL_ACCOUNT');
  t.is(at('514'), 'disabled', 'NORMAL_ACCOUNT | ACCOUNTDISABLE');
  t.is(at('66050'), 'disabled', 'DONT_EXPIRE_PASSWORD | NORMAL_ACCOUNT | ACCOUNTDISABLE');
  t.is(at('66048'), null);
  t.is(at('16'), null, 'LOCKOUT is not bit 2');
  const filetime = (ms: number) => String((BigInt(ms) + 11_644_473_600_000n) * 10_000n);
  t.is(at('512', filetime(now - DAY)), 'expired on 2026-01-04');
  t.is(at('512', filetime(now + DAY)), null);
  t.is(at('512', '9223372036854775807'), null);
  t.is(at('512', 'soon'), null, 'a value that is not a number is not an expiry');
  t.is(accountDisabled('active-directory', entry({}), now), null, 'neither attribute: usable');
});

test('OpenLDAP: shadowExpire counts days since 1970; absent or -1 never expires', (t) => {
  const now = Date.UTC(2026, 0, 5);
  const at = (days: string | undefined) => accountDisabled('shadow', entry(days === undefined ? {} : { shadowexpire: [days] }), now);
  t.is(at('1'), 'expired on 1970-01-02');
  t.is(at(String(now / DAY)), 'expired on 2026-01-05', 'the day itself has expired');
  t.is(at(String(now / DAY + 1)), null);
  t.is(at('-1'), null);
  t.is(at(undefined), null);
  t.is(at('never'), null);
});

test('each preset asks for the attributes its expiry rule reads, and names people and groups as its directory does', (t) => {
  t.deepEqual(expiryAttributes(PRESETS.openldap.expiry), ['shadowExpire']);
  t.deepEqual(expiryAttributes(PRESETS['active-directory'].expiry), ['userAccountControl', 'accountExpires']);
  t.like(PRESETS.openldap, { account: 'uid', memberUid: 'memberUid', member: 'member', memberOf: '' });
  t.like(PRESETS['active-directory'], { account: 'sAMAccountName', homeDirectory: 'unixHomeDirectory', memberOf: 'memberOf', memberUid: '', member: '' });
});
