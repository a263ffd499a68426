/**
 * The LDAP directory against a real OpenLDAP server (Debian's slapd, started here on 127.0.0.1
 * with a throwaway database and certificates), and the Active Directory rules against a fake
 * connection. Without slapd the real half is listed as not run (a failure with DAAAS_REQUIRE_LDAP).
 */
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import { CachedDirectory } from '../../../src/adapters/cached-directory.ts';
import { LdapDirectory, type LdapDirectoryOptions } from '../../../src/adapters/ldap/ldap-directory.ts';
import { connectLdapts, type LdapConnection, type LdapEntry, type LdapSearch } from '../../../src/adapters/ldap/ldapts-connection.ts';
import { IN_CHAIN } from '../../../src/adapters/ldap/mapping.ts';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import { DirectoryUnavailableError } from '../../../src/ports/directory.ts';
import { createHarness } from '../../helpers/harness.ts';
import { recordingLogger } from '../../helpers/recording-logger.ts';
import { texts } from '../../helpers/replies.ts';
import { BOT_DN, BOT_PASSWORD, GROUPS, ldapSuite, PEOPLE, startSlapd, type Groups, type Person, type Slapd } from '../../helpers/slapd.ts';


const PEOPLE_LOADED: Person[] = [
  { uid: 'alice', uidNumber: 5001, gidNumber: 6001, name: 'Alice Liddell', mail: 'alice@facility.example', home: '/nfs/home/alice' },
  { uid: 'bob', uidNumber: 5002, name: 'Bob Marley' },
  { uid: 'carol', uidNumber: 5003 },
  // Expired in 1970 (shadowExpire counts days since 1970-01-01).
  { uid: 'dave', uidNumber: 5004, shadowExpire: 1 },
  // Expires in 2079.
  { uid: 'erin', uidNumber: 5005, shadowExpire: 40_000 },
  // Locked by an attribute the site's disabledFilter looks at.
  { uid: 'frank', uidNumber: 5006, extra: ['description: locked'] },
];
const GROUPS_LOADED: Groups = {
  posix: { 'excitations-users': ['alice', 'erin', 'dave'] },
  named: { 'imaging-users': ['bob'], staff: ['group:imaging-users'], everyone: ['group:staff', 'carol'] },
};

function options(slapd: Slapd, more: Partial<LdapDirectoryOptions> = {}): LdapDirectoryOptions {
  return {
    url: slapd.url,
    ca: slapd.certificates.ca,
    bindDn: BOT_DN,
    bindPassword: BOT_PASSWORD,
    userBase: PEOPLE,
    groupBase: GROUPS,
    preset: 'openldap',
    timeoutMs: 5_000,
    poolSize: 2,
    clock: new SystemClock(),
    ...more,
  };
}

ldapSuite(test, 'LDAP directory tests', () => {
  let slapd: Slapd;
  test.before(async () => {
    slapd = await startSlapd(PEOPLE_LOADED, GROUPS_LOADED);
  });
  test.after.always(async () => {
    await slapd?.remove();
  });

  const directory = (t: { teardown: (fn: () => Promise<void>) => void }, more: Partial<LdapDirectoryOptions> = {}) => {
    const d = new LdapDirectory(options(slapd, more));
    t.teardown(() => d.close());
    return d;
  };

  test('a member: found over StartTLS with its ids, name, e-mail, home and posixGroup membership', async (t) => {
    const d = directory(t);
    const alice = await d.lookUp('alice');
    t.deepEqual(alice, {
      exists: true,
      account: 'alice',
      dn: `uid=alice,${PEOPLE}`,
      disabled: false,
      disabledReason: null,
      uidNumber: 5001,
      gidNumber: 6001,
      displayName: 'Alice Liddell',
      mail: 'alice@facility.example',
      homeDirectory: '/nfs/home/alice',
      groups: ['excitations-users'],
      groupsComplete: true,
    });
    t.true(await d.isMemberOf('alice', 'excitations-users'));
    t.true(await d.isMemberOf('alice', 'Excitations-Users'), 'group names compare as LDAP compares cn: without case');
    t.false(await d.isMemberOf('alice', 'imaging-users'));
  });

  test('groupOfNames members, and groups within groups followed to the configured depth', async (t) => {
    const bob = await directory(t).lookUp('bob');
    t.true(bob.exists);
    if (!bob.exists) return;
    t.deepEqual([...bob.groups].sort(), ['everyone', 'imaging-users', 'staff']);
    const carol = await directory(t).lookUp('carol');
    t.deepEqual(carol.exists && carol.groups, ['everyone']);
    const shallow = await directory(t, { nestedDepth: 1 }).lookUp('bob');
    t.deepEqual(shallow.exists && [...shallow.groups].sort(), ['imaging-users', 'staff']);
    const flat = await directory(t, { nestedDepth: 0 }).lookUp('bob');
    t.deepEqual(flat.exists && flat.groups, ['imaging-users']);
  });

  test('a non-member and an unknown account', async (t) => {
    const d = directory(t);
    const carol = await d.lookUp('carol');
    t.like(carol, { exists: true, disabled: false });
    t.false(await d.isMemberOf('carol', 'excitations-users'));
    t.deepEqual(await d.lookUp('mallory'), { exists: false, account: 'mallory' });
    t.false(await d.isMemberOf('mallory', 'excitations-users'));
  });

  test('disabled accounts: an expired shadowExpire, and the site\'s disabled filter', async (t) => {
    const d = directory(t);
    t.like(await d.lookUp('dave'), { exists: true, disabled: true, disabledReason: 'expired on 1970-01-02' });
    t.like(await d.lookUp('erin'), { exists: true, disabled: false, disabledReason: null }, 'expiry in the future');
    t.like(await d.lookUp('frank'), { exists: true, disabled: false }, 'without a disabled filter');
    const strict = directory(t, { disabledFilter: '(description=locked)' });
    t.like(await strict.lookUp('frank'), { exists: true, disabled: true, disabledReason: 'disabled' });
    t.like(await strict.lookUp('alice'), { exists: true, disabled: false });
  });

  test('injection: user names with *, (, ), \\ or NUL never match anyone else', async (t) => {
    const d = directory(t);
    for (const hostile of ['*', 'a*', '*e', 'alice)(uid=*', '*)(|(uid=*', 'alice)(|(uid=*)', 'alice\\', 'alice\u0000', 'alice\u0000)(uid=*', '(uid=alice)', ')(objectClass=*', 'alice\\2a']) {
      t.deepEqual(await d.lookUp(hostile), { exists: false, account: hostile }, JSON.stringify(hostile));
      t.false(await d.isMemberOf(hostile, 'excitations-users'), JSON.stringify(hostile));
    }
    t.false(await d.isMemberOf('alice', '*'));
    t.false(await d.isMemberOf('alice', 'excitations-users)(cn=*'));
  });

  test('StartTLS with the right CA works; a wrong CA, or no CA, is refused before any credentials are sent', async (t) => {
    t.true((await directory(t).lookUp('alice')).exists);
    const wrong = directory(t, { ca: slapd.certificates.wrongCa });
    const error = await t.throwsAsync(wrong.lookUp('alice'), { instanceOf: DirectoryUnavailableError });
    t.regex(error!.message, /certificate/);
    const systemOnly = directory(t, { ca: undefined as unknown as string });
    await t.throwsAsync(systemOnly.lookUp('alice'), { instanceOf: DirectoryUnavailableError, message: /certificate/ });
  });

  test('ldaps:// with the right CA works; with a wrong CA it is refused', async (t) => {
    t.true((await directory(t, { url: slapd.ldapsUrl }).lookUp('alice')).exists);
    await t.throwsAsync(directory(t, { url: slapd.ldapsUrl, ca: slapd.certificates.wrongCa }).lookUp('alice'), { instanceOf: DirectoryUnavailableError, message: /certificate/ });
  });

  test('the bind: a wrong password is an error, never an empty answer; so is a search this server refuses to anonymous clients', async (t) => {
    await t.throwsAsync(directory(t, { bindPassword: 'wrong' }).lookUp('alice'), { instanceOf: DirectoryUnavailableError, message: /InvalidCredentials/ });
    const anonymous = directory(t, { bindDn: undefined as unknown as string });
    await t.throwsAsync(anonymous.lookUp('alice'), { instanceOf: DirectoryUnavailableError, message: /NoSuchObject/ });
  });

  test('config check: binds and searches the user base once; a wrong base is an error', async (t) => {
    const { ms } = await directory(t).check();
    t.true(ms >= 0);
    await t.throwsAsync(directory(t, { userBase: 'ou=nobody,dc=facility,dc=example' }).check(), { instanceOf: DirectoryUnavailableError });
  });

  test('a bounded pool: 40 look-ups at once share at most poolSize connections', async (t) => {
    let open = 0;
    let most = 0;
    let made = 0;
    const o = options(slapd, { poolSize: 3 });
    const d = new LdapDirectory({
      ...o,
      connect: async () => {
        made++;
        const c = await connectLdapts(o);
        open++;
        most = Math.max(most, open);
        return { ...c, search: (r: LdapSearch) => c.search(r), get usable() { return c.usable; }, close: async () => { open--; await c.close(); } };
      },
    });
    t.teardown(() => d.close());
    const names = ['alice', 'bob', 'carol', 'erin'];
    const found = await Promise.all(Array.from({ length: 40 }, (_, i) => d.lookUp(names[i % names.length]!)));
    t.true(found.every((f) => f.exists));
    t.true(most <= 3, `at most 3 open, saw ${most}`);
    t.true(made <= 3, `connections were reused (${made} made)`);
  });

  test('a directory that accepts connections but never answers times out', async (t) => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    await t.throwsAsync(directory(t, { url: `ldap://127.0.0.1:${port}`, timeoutMs: 300 }).lookUp('alice'), { instanceOf: DirectoryUnavailableError });
    t.true(Date.now() - started < 3_000, `gave up after ${Date.now() - started} ms`);
  });

  test('through the bot: members of a directory group claim, others are refused saying whom to ask, and claim.yml gets the ids', async (t) => {
    const clock = new ManualClock();
    const ldap = new LdapDirectory(options(slapd, { clock }));
    t.teardown(() => ldap.close());
    const h = createHarness({ config: directoryConfig(slapd), clock, directory: new CachedDirectory(ldap, { clock, ttlMs: 300_000, staleForMs: 3_600_000 }) });
    t.teardown(() => h.close());
    await h.run(15_000);

    const claimed = await h.say('alice', 'claim physics');
    t.is(claimed.tone, 'success', JSON.stringify(claimed));
    await h.tick();
    await h.app.reconciler.idle();
    t.true(h.dms.titles('alice').some((title) => /is ready for you/.test(title)));
    t.regex(JSON.stringify(h.dms.sent), /\/nfs\/home\/alice/, 'the home the directory gives reached the provisioner');
    t.deepEqual(await h.app.access.claimAccount('alice'), { name: 'alice', uid: 5001, gid: 6001, displayName: 'Alice Liddell', mail: 'alice@facility.example', home: '/nfs/home/alice' });

    const carol = await h.say('carol', 'claim physics');
    t.is(carol.title, 'Pool physics is for members of directory group excitations-users or physics, and you are not one.');
    const dave = await h.say('dave', 'claim physics');
    t.is(dave.title, 'Your account dave is expired on 1970-01-02 in the facility directory, so the bot cannot serve you.');
    t.is(texts(dave), 'Ask the user office (users@facility.example) to renew it.');
    const mallory = await h.say('mallory', 'status');
    t.regex(mallory.title, /facility directory has no account called mallory/);
    t.regex(texts(mallory), /ask the user office \(users@facility\.example\)/);
    // Static lists keep working beside directory groups: zoe is in access.groups, not in the directory's group.
    const zoe = await h.say('zoe', 'claim physics');
    t.regex(zoe.title, /facility directory has no account called zoe/, 'but a directory is configured, so zoe must be in it');
    const bob = await h.say('bob', 'claim imaging');
    t.is(bob.tone, 'success', 'bob is an admin through ldap:staff (nested), so he may claim any pool');
    t.true((await h.app.principalOf('bob', 'test')).isAdmin);
    t.false((await h.app.principalOf('alice', 'test')).isAdmin);
  });

  test('directory down: answers younger than staleFor are used (and logged), then claims are refused; errors never grant access', async (t) => {
    const own = await startSlapd(PEOPLE_LOADED, GROUPS_LOADED);
    t.teardown(() => own.remove());
    const clock = new ManualClock();
    const { log, text } = recordingLogger();
    const ldap = new LdapDirectory(options(own, { clock, timeoutMs: 1_000 }));
    t.teardown(() => ldap.close());
    const cached = new CachedDirectory(ldap, { clock, ttlMs: 300_000, staleForMs: 3_600_000, log });
    const h = createHarness({ config: directoryConfig(own), clock, directory: cached });
    t.teardown(() => h.close());
    await h.run(15_000);

    t.is((await h.say('alice', 'pools')).tone, 'info');
    t.is((await h.say('erin', 'pools')).tone, 'info');
    await own.stop();
    t.false(own.running());

    await clock.advance(10 * 60_000);
    const erin = await h.say('erin', 'claim physics');
    t.is(erin.tone, 'success', `a 10-minute-old answer is used while the directory is down: ${JSON.stringify(erin)}`);
    t.is(cached.staleAnswers, 1);
    t.regex(text(), /the facility directory cannot be reached: using an answer remembered from before/);

    const bob = await h.say('bob', 'claim physics');
    t.is(bob.title, 'Not now: the facility directory cannot be reached, so the bot cannot check your account.');
    t.is(h.store.activeLeases({ user: 'bob' }).length, 0);

    await clock.advance(60 * 60_000);
    const alice = await h.say('alice', 'claim physics');
    t.is(alice.title, 'Not now: the facility directory cannot be reached, so the bot cannot check your account.', 'past staleFor the old answer is not used');
    t.is(h.store.activeLeases({ user: 'alice' }).length, 0);
    t.is((await h.say('erin', 'status')).tone, 'info', 'status still works');
    t.false((await h.app.principalOf('bob', 'test')).isAdmin, 'an admin only through a directory group is not one while it is down');

    // erin's VM was not set up yet: without the directory's uid it is not, and the VM, untouched, goes back to the pool.
    const erinVm = h.store.activeLeases({ user: 'erin' })[0]!.vmId;
    await h.tick();
    await h.app.reconciler.idle();
    t.is(h.store.activeLeases({ user: 'erin' }).length, 0);
    t.is(h.store.getVm(erinVm)!.state, 'ready');
    t.regex(JSON.stringify(h.dms.sent.filter((m) => m.to.user === 'erin')), /the facility directory cannot be reached/);

    await own.start();
    const again = await h.say('alice', 'claim physics');
    t.is(again.tone, 'success', `back again: ${JSON.stringify(again)}`);
  });
});

function directoryConfig(slapd: Slapd): string {
  return `
access:
  admins: [root, "ldap:staff"]
  groups:
    physics: [zoe]
    imaging: [zoe]
  directory:
    driver: ldap
    url: ${slapd.url}
    userBase: ${PEOPLE}
    groupBase: ${GROUPS}
    contact: the user office (users@facility.example)
cloud:
  driver: simulated
  simulated:
    bootTime: 5s
    latency: 0
    flavors: { m1.large: { vcpus: 4 } }
    images: [physics-base]
provisioner: { driver: simulated, simulated: { provisionTime: 4s } }
pools:
  physics:
    image: physics-base
    flavor: m1.large
    size: 2
    max: 4
    groups: ["ldap:excitations-users", physics]
    owner: { name: Physics software, contact: physics@facility.example }
  imaging:
    image: physics-base
    flavor: m1.large
    size: 1
    max: 2
    groups: [imaging]
    owner: { name: Imaging group, contact: imaging@facility.example }
`;
}

// Active Directory: the same adapter, its rules checked against a fake connection that records
// every search and answers as a domain controller would.

interface FakeAd {
  searches: LdapSearch[];
  connect: () => Promise<LdapConnection>;
}

function fakeAd(answer: (search: LdapSearch) => LdapEntry[]): FakeAd {
  const searches: LdapSearch[] = [];
  return {
    searches,
    connect: async () => ({
      usable: true,
      search: async (request) => {
        searches.push(request);
        return answer(request);
      },
      close: async () => {},
    }),
  };
}

const AD_USERS = 'OU=People,DC=facility,DC=example';
const AD_GROUPS = 'OU=Groups,DC=facility,DC=example';
const JDOE = 'CN=Jane Doe,OU=People,DC=facility,DC=example';

function adEntry(attributes: Record<string, string[]>): LdapEntry {
  return {
    dn: JDOE,
    attributes: {
      samaccountname: ['jdoe'],
      uidnumber: ['70001'],
      gidnumber: ['70000'],
      displayname: ['Jane Doe'],
      mail: ['jane.doe@facility.example'],
      unixhomedirectory: ['/home/jdoe'],
      memberof: ['CN=Excitations Users,OU=Groups,DC=facility,DC=example', 'CN=Smith\\, Lab,OU=Groups,DC=facility,DC=example'],
      useraccountcontrol: ['512'],
      accountexpires: ['9223372036854775807'],
      ...attributes,
    },
  };
}

function adDirectory(fake: FakeAd, clock = new ManualClock()): LdapDirectory {
  return new LdapDirectory({ url: 'ldaps://dc.facility.example', userBase: AD_USERS, groupBase: AD_GROUPS, preset: 'active-directory', timeoutMs: 1_000, poolSize: 1, clock, connect: fake.connect });
}

test('Active Directory: the account by sAMAccountName, its direct groups from memberOf, its Unix ids and home', async (t) => {
  const fake = fakeAd((s) => (s.filter.includes('(sAMAccountName=jdoe)') ? [adEntry({})] : []));
  const found = await adDirectory(fake).lookUp('jdoe');
  t.deepEqual(fake.searches[0], {
    base: AD_USERS,
    scope: 'sub',
    filter: '(&(&(objectCategory=person)(objectClass=user))(sAMAccountName=jdoe))',
    attributes: ['sAMAccountName', 'uidNumber', 'gidNumber', 'displayName', 'cn', 'mail', 'unixHomeDirectory', 'memberOf', 'userAccountControl', 'accountExpires'],
    sizeLimit: 2,
  });
  t.like(found, { exists: true, account: 'jdoe', uidNumber: 70001, gidNumber: 70000, displayName: 'Jane Doe', homeDirectory: '/home/jdoe', disabled: false, groupsComplete: false });
  t.deepEqual(found.exists && found.groups, ['Excitations Users', 'Smith, Lab']);
  t.is(fake.searches.length, 1, 'memberOf comes with the account: one search');
});

test('Active Directory: an account with userAccountControl bit 2 is found, and disabled', async (t) => {
  const fake = fakeAd(() => [adEntry({ useraccountcontrol: ['514'] })]);
  t.like(await adDirectory(fake).lookUp('jdoe'), { exists: true, disabled: true, disabledReason: 'disabled' });
});

test('Active Directory: nested membership is asked with the in-chain matching rule, on the group\'s escaped DN', async (t) => {
  const groupDn = 'CN=Facility (all) Staff,OU=Groups,DC=facility,DC=example';
  let member = true;
  const fake = fakeAd((s) => {
    if (s.base === AD_GROUPS) return s.filter === '(&(objectClass=group)(cn=Facility \\28all\\29 Staff))' ? [{ dn: groupDn, attributes: {} }] : [];
    return member && s.filter.includes(`memberOf:${IN_CHAIN}:=`) ? [{ dn: JDOE, attributes: {} }] : [];
  });
  const d = adDirectory(fake);
  t.true(await d.isMemberOf('jdoe', 'Facility (all) Staff'));
  t.is(fake.searches[1]!.filter, `(&(&(&(objectCategory=person)(objectClass=user))(sAMAccountName=jdoe))(memberOf:${IN_CHAIN}:=CN=Facility \\28all\\29 Staff,OU=Groups,DC=facility,DC=example))`);
  t.deepEqual(fake.searches[1]!.attributes, ['1.1']);
  member = false;
  t.false(await d.isMemberOf('jdoe', 'Facility (all) Staff'));
  t.false(await d.isMemberOf('jdoe', 'No such group'));
  t.false(await d.isMemberOf('jdoe', '*'), 'a wildcard group name matches no group');
  t.is(fake.searches.at(-1)!.filter, '(&(objectClass=group)(cn=\\2a))');
  member = true;
  await d.isMemberOf('j*)(sAMAccountName=*', 'Facility (all) Staff');
  t.is(fake.searches.at(-1)!.filter, `(&(&(&(objectCategory=person)(objectClass=user))(sAMAccountName=j\\2a\\29\\28sAMAccountName=\\2a))(memberOf:${IN_CHAIN}:=CN=Facility \\28all\\29 Staff,OU=Groups,DC=facility,DC=example))`, 'the account name is escaped too');
});
