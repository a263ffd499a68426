import test from 'ava';
import { AccessPolicy, describeGroup, mayClaim, principalFor } from '../../src/core/access.ts';
import { UserError } from '../../src/core/errors.ts';
import type { PoolSpec } from '../../src/core/model.ts';
import { DirectoryUnavailableError, type AccountLookup, type Directory, type DirectoryAccount } from '../../src/ports/directory.ts';
import { UserSetupError } from '../../src/ports/provisioner.ts';

const pool = (name: string, groups: string[]): PoolSpec => ({
  name,
  description: '',
  image: 'i',
  flavor: 'f',
  gpu: false,
  networks: [],
  size: 1,
  max: 2,
  leaseMs: 1,
  remindBeforeMs: [],
  extensionStepMs: 1,
  maxExtensions: 0,
  maxLeasesPerUser: 1,
  groups,
  connect: '',
  owner: { name: 'o', contact: 'o@x' },
});

const POOLS = [pool('excitations', ['ldap:excitations-users', 'physics']), pool('tomography', ['ldap:Imaging Staff'])];
const RULES = { admins: ['root', 'ldap:bot-admins'], groups: { physics: ['zoe'] } };

function person(account: string, more: Partial<DirectoryAccount> = {}): AccountLookup {
  return { exists: true, account, dn: `uid=${account}`, disabled: false, disabledReason: null, uidNumber: 5001, gidNumber: 5000, displayName: 'A Person', mail: `${account}@facility.example`, homeDirectory: `/home/${account}`, groups: [], groupsComplete: true, ...more };
}

class FakeDirectory implements Directory {
  readonly asked: string[] = [];
  constructor(
    private readonly people: Record<string, AccountLookup>,
    private readonly nested: Record<string, string[]> = {},
    public down = false,
  ) {}
  async lookUp(account: string): Promise<AccountLookup> {
    this.asked.push(`lookUp ${account}`);
    if (this.down) throw new DirectoryUnavailableError('down');
    return this.people[account] ?? { exists: false, account };
  }
  async isMemberOf(account: string, group: string): Promise<boolean> {
    this.asked.push(`isMemberOf ${account} ${group}`);
    if (this.down) throw new DirectoryUnavailableError('down');
    return (this.nested[account] ?? []).includes(group);
  }
}

test('without a directory the configuration alone decides, as before', async (t) => {
  const policy = new AccessPolicy({ rules: RULES, pools: POOLS });
  t.deepEqual(await policy.principal('zoe'), principalFor('zoe', RULES));
  t.deepEqual(await policy.principal('zoe'), { account: 'zoe', isAdmin: false, groups: ['physics'] });
  t.true((await policy.principal('root')).isAdmin);
  t.deepEqual(await policy.claimAccount('zoe'), { name: 'zoe' });
});

test('directory groups named ldap:<group> count beside the static lists; admins through a directory group', async (t) => {
  const directory = new FakeDirectory({
    alice: person('alice', { groups: ['excitations-users', 'unrelated'] }),
    zoe: person('zoe'),
    ada: person('ada', { groups: ['imaging staff', 'bot-admins'] }),
  });
  const policy = new AccessPolicy({ rules: RULES, pools: POOLS, directory });
  const alice = await policy.principal('alice');
  t.deepEqual(alice, { account: 'alice', isAdmin: false, groups: ['ldap:excitations-users'] });
  t.true(mayClaim(alice, POOLS[0]!));
  t.false(mayClaim(alice, POOLS[1]!));
  const zoe = await policy.principal('zoe');
  t.deepEqual(zoe.groups, ['physics'], 'a static member, who is in the directory');
  t.true(mayClaim(zoe, POOLS[0]!));
  const ada = await policy.principal('ada');
  t.true(ada.isAdmin, 'bot-admins, compared without case like LDAP');
  t.deepEqual(ada.groups, ['ldap:bot-admins', 'ldap:Imaging Staff']);
  t.is(describeGroup('ldap:excitations-users'), 'directory group excitations-users');
  t.is(describeGroup('physics'), 'physics');
});

test('an account the directory lacks, or has disabled, is refused for every command, naming whom to ask', async (t) => {
  const directory = new FakeDirectory({ dave: person('dave', { disabled: true, disabledReason: 'expired on 2025-12-31' }) });
  const policy = new AccessPolicy({ rules: RULES, pools: POOLS, directory, contact: 'the user office (users@facility.example)' });
  const missing = await t.throwsAsync(policy.principal('mallory'), { instanceOf: UserError });
  t.is(missing!.code, 'NOT_IN_DIRECTORY');
  t.regex(missing!.hint!, /the user office \(users@facility\.example\)/);
  const dave = await t.throwsAsync(policy.principal('dave'), { instanceOf: UserError });
  t.is(dave!.code, 'ACCOUNT_DISABLED');
  t.is(dave!.message, 'Your account dave is expired on 2025-12-31 in the facility directory, so the bot cannot serve you.');
  await t.throwsAsync(policy.claimAccount('dave'), { instanceOf: UserSetupError, message: /expired on 2025-12-31/ });
  t.true(RULES.admins.includes('root'));
  await t.throwsAsync(policy.principal('root'), { instanceOf: UserError }, 'a static admin is a chat user like any other');
  t.deepEqual(await policy.principal('root', true), { account: 'root', isAdmin: true, groups: [] }, 'the operator at the terminal is not looked up');
});

test('unreachable: only the static lists count and the principal is marked, so claims are refused', async (t) => {
  const directory = new FakeDirectory({ ada: person('ada', { groups: ['bot-admins', 'excitations-users'] }) }, {}, true);
  const policy = new AccessPolicy({ rules: RULES, pools: POOLS, directory });
  t.deepEqual(await policy.principal('ada'), { account: 'ada', isAdmin: false, groups: [], directoryUnavailable: true });
  t.deepEqual(await policy.principal('zoe'), { account: 'zoe', isAdmin: false, groups: ['physics'], directoryUnavailable: true });
  const error = await t.throwsAsync(policy.claimAccount('ada'), { instanceOf: UserSetupError, message: /the facility directory cannot be reached/ });
  t.false(error!.vmChanged, 'asked before the VM is touched: it can go back to its pool');
});

test('a directory that lists only direct groups (Active Directory) is asked about the configured groups it did not list', async (t) => {
  const directory = new FakeDirectory({ jdoe: person('jdoe', { groups: ['Excitations-Users'], groupsComplete: false }) }, { jdoe: ['Imaging Staff'] });
  const policy = new AccessPolicy({ rules: RULES, pools: POOLS, directory });
  const jdoe = await policy.principal('jdoe');
  t.deepEqual(jdoe.groups, ['ldap:excitations-users', 'ldap:Imaging Staff']);
  t.deepEqual(directory.asked, ['lookUp jdoe', 'isMemberOf jdoe bot-admins', 'isMemberOf jdoe Imaging Staff']);
});

test('claim.yml gets the directory\'s ids, name, e-mail and home; an account it does not have goes by name', async (t) => {
  const directory = new FakeDirectory({ alice: person('alice', { displayName: null }) });
  const policy = new AccessPolicy({ rules: RULES, pools: POOLS, directory });
  t.deepEqual(await policy.claimAccount('alice'), { name: 'alice', uid: 5001, gid: 5000, mail: 'alice@facility.example', home: '/home/alice' });
  t.deepEqual(await policy.claimAccount('root'), { name: 'root' });
});
