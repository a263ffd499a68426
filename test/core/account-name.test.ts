import test from 'ava';
import YAML from 'yaml';
import { readFileSync } from 'node:fs';
import { safeAccount } from '../../src/adapters/ansible/safe-vars.ts';
import { accountFromAddress } from '../../src/chat/identity.ts';
import { ConfigError, parseConfig } from '../../src/config/load-config.ts';
import { ACCOUNT_NAME_RULE, accountNameProblem, isAccountName } from '../../src/core/account-name.ts';

const GOOD = ['alice', 'jane.doe', 'j.r.doe', 'j_doe', 'jdoe-2', '_svc', 'a', 'root', 'a'.repeat(32), 'jane.', 'a--b'];
const BAD = [
  '',
  ' ',
  ' alice',
  'Alice',
  'Jane.Doe',
  'bad name',
  'a;rm -rf',
  'a;rm -rf /',
  '$(id)',
  '`id`',
  "{{ lookup('pipe','id') }}",
  '-rf',
  '.hidden',
  '.',
  '..',
  '1abc',
  '42',
  'a'.repeat(33),
  'jane@facility.example',
  'jane+lab',
  "o'brien",
  'josé',
  'a\nb',
  'alice\n',
  '*',
  'a/b',
  'a:b',
  'a,b',
];

test('the rule: a lowercase letter or _, then up to 31 of a-z 0-9 . _ - (dotted facility accounts pass)', (t) => {
  for (const name of GOOD) t.true(isAccountName(name), name);
  for (const name of BAD) t.false(isAccountName(name), JSON.stringify(name));
  for (const value of [undefined, null, 42, ['alice'], { name: 'alice' }]) t.false(isAccountName(value));
  t.regex(ACCOUNT_NAME_RULE, /jane\.doe/);
});

test('the problem with a name is said in words a person can act on', (t) => {
  t.is(accountNameProblem('jane.doe'), undefined);
  t.is(accountNameProblem(''), 'it is empty');
  t.is(accountNameProblem('Jane.Doe'), 'it has capital letters (jane.doe?)');
  t.is(accountNameProblem('bad name'), 'it has characters other than a-z 0-9 . _ - (" ")');
  t.is(accountNameProblem('a;rm -rf'), 'it has characters other than a-z 0-9 . _ - (";", " ")');
  t.is(accountNameProblem('1abc'), 'it must start with a lowercase letter or _');
  t.is(accountNameProblem('a'.repeat(33)), 'it is longer than 32 characters');
  t.is(accountNameProblem('a\nb'), 'it has characters other than a-z 0-9 . _ - ("\\n")');
});

/** A small valid configuration that names `name` as an admin, a group member and a mapped account. */
function configNaming(name: string): string {
  return YAML.stringify({
    access: { admins: [name], groups: { team: [name] } },
    cloud: { driver: 'simulated', simulated: { flavors: { 'm1.large': { vcpus: 4 } }, images: ['base'] } },
    slack: { identity: { rule: 'map-only', map: { U0123ABC: name } } },
    teams: { identity: { rule: 'map-only', map: { '29:1abc': name } } },
    pools: { alpha: { image: 'base', flavor: 'm1.large', size: 1, max: 2, groups: ['team'], owner: { name: 'Team', contact: 'team@example.org' } } },
  });
}

function configAccepts(name: string, env: Record<string, string> = {}): boolean {
  try {
    parseConfig(configNaming(name), 'names.yaml', env);
    return true;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Every problem is about this name, in each of the four places.
    if (!error.problems.every((p) => p.includes('is not an account name'))) throw error;
    return false;
  }
}

function ansibleAccepts(name: string): boolean {
  try {
    safeAccount(name);
    return true;
  } catch {
    return false;
  }
}

/** The claim role checks the account name again on the VM: it must agree too. */
function claimRolePattern(): RegExp {
  const tasks = readFileSync(new URL('../../ansible/roles/claim/tasks/main.yml', import.meta.url), 'utf8');
  const found = /daaas_account is match\('([^']+)'\)/.exec(tasks);
  if (!found) throw new Error('the claim role no longer checks daaas_account');
  return new RegExp(found[1]!);
}

test('every way in accepts exactly the same names: config (admins, groups, maps), DAAAS_ADMINS, chat addresses, Ansible and the claim role', (t) => {
  const role = claimRolePattern();
  for (const name of [...GOOD, ...BAD]) {
    const expected = isAccountName(name);
    const shown = JSON.stringify(name);
    t.is(configAccepts(name), expected, `config: ${shown}`);
    t.is(ansibleAccepts(name), expected, `Ansible: ${shown}`);
    t.is(role.test(name) && !name.includes('\n'), expected, `claim role: ${shown}`);
    // An address's local part, as the chat mappers pass it (lower-cased, trimmed, no @ inside).
    if (name === name.trim().toLowerCase() && !name.includes('@') && name !== '') {
      t.is(accountFromAddress(`${name}@facility.example`, { domains: ['facility.example'], what: 'Your address' }).ok, expected, `identity: ${shown}`);
    }
    // DAAAS_ADMINS is a comma-separated, trimmed list: names without commas or outer blanks.
    if (name === name.trim() && !name.includes(',') && name !== '' && name !== '*') {
      t.is(configAccepts('alice', { DAAAS_ADMINS: name }), expected, `DAAAS_ADMINS: ${shown}`);
    }
  }
});
