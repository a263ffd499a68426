import test from 'ava';
import { readFileSync } from 'node:fs';
import { safeAccount } from '../../src/adapters/ansible/safe-vars.ts';
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

test('the Ansible inputs and the claim role accept exactly the same names', (t) => {
  const role = claimRolePattern();
  for (const name of [...GOOD, ...BAD]) {
    const expected = isAccountName(name);
    t.is(ansibleAccepts(name), expected, `Ansible: ${JSON.stringify(name)}`);
    t.is(role.test(name) && !name.includes('\n'), expected, `claim role: ${JSON.stringify(name)}`);
  }
});
