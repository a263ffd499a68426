import test from 'ava';
import { and, attributeName, configuredFilter, equals, escapeValue, firstRdnValue, or } from '../../../src/adapters/ldap/filter.ts';

test('RFC 4515: *, (, ), \\ and NUL are written as hex escapes, so a value is only ever a value', (t) => {
  t.is(escapeValue('alice'), 'alice');
  t.is(escapeValue('*'), '\\2a');
  t.is(escapeValue('a(b)c'), 'a\\28b\\29c');
  t.is(escapeValue('back\\slash'), 'back\\5cslash');
  t.is(escapeValue('nul\u0000byte'), 'nul\\00byte');
  t.is(escapeValue('line\nbreak'), 'line\\0abreak');
  // The RFC's own examples (§4).
  t.is(escapeValue('Parens R Us (for all your parenthetical needs)'), 'Parens R Us \\28for all your parenthetical needs\\29');
  t.is(escapeValue('\\2a'), '\\5c2a', 'an escape in the input is escaped again, never decoded');
  t.is(escapeValue('Lučić'), 'Lučić', 'UTF-8 stays as it is');
});

test('hostile account names cannot widen or close a filter', (t) => {
  for (const hostile of ['*', 'alice)(uid=*', '*)(|(uid=*', 'al*', 'alice\\', 'alice\u0000', '(uid=alice)', ')(objectClass=*']) {
    const filter = equals('uid', hostile);
    const body = filter.slice(1, -1);
    t.false(/[()*]/.test(body.slice('uid='.length)), `${JSON.stringify(hostile)} → ${filter}`);
    t.true(filter.startsWith('(uid=') && filter.endsWith(')'));
  }
});

test('filters combine; attribute names and configured filters are checked', (t) => {
  t.is(and('(a=1)', '', '(b=2)'), '(&(a=1)(b=2))');
  t.is(and('(a=1)'), '(a=1)');
  t.is(or('(a=1)', '(b=2)'), '(|(a=1)(b=2))');
  t.is(attributeName('memberOf:1.2.840.113556.1.4.1941'), 'memberOf:1.2.840.113556.1.4.1941');
  t.throws(() => attributeName('uid=*'));
  t.throws(() => attributeName('(uid'));
  t.is(configuredFilter('(&(objectClass=user)(!(x=\\29)))'), '(&(objectClass=user)(!(x=\\29)))');
  t.throws(() => configuredFilter('(a=1)(b=2)'), { message: /not one LDAP filter/ });
  t.throws(() => configuredFilter('(a=1'));
  t.throws(() => configuredFilter('a=1'));
  t.throws(() => configuredFilter('(a=1))(|(b=2)'));
});

test('the first RDN value of a DN, with its escapes undone', (t) => {
  t.is(firstRdnValue('CN=Excitations Users,OU=Groups,DC=facility,DC=example'), 'Excitations Users');
  t.is(firstRdnValue('cn=Smith\\, John,ou=people'), 'Smith, John');
  t.is(firstRdnValue('cn=a\\2Cb,ou=x'), 'a,b');
  t.is(firstRdnValue('cn=Lu\\C4\\8Di\\C4\\87,ou=x'), 'Lučić');
  t.is(firstRdnValue('cn=one+sn=two,ou=x'), 'one');
  t.is(firstRdnValue('no equals'), null);
});
