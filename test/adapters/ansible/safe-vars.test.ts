import test from 'ava';
import {
  UnsafeInputError,
  safeAccount,
  safeAddress,
  safeExtraVars,
  safeName,
  safePath,
  safePlaybook,
  safeRole,
  safeUid,
  safeVarName,
  toExtraVarsJson,
} from '../../../src/adapters/ansible/safe-vars.ts';

const HOSTILE = [
  'x; rm -rf /',
  '../../etc',
  "{{ lookup('pipe','id') }}",
  '{% raw %}',
  'alice\nroot',
  'alice\n- root',
  'alice: [root]',
  '$(id)',
  '`id`',
  'alice bob',
  '',
  ' alice',
  'Alice',
  '-alice',
  'a'.repeat(33),
];

test('account names: POSIX names (dotted facility accounts too) pass, hostile values are refused naming the field and what is allowed', (t) => {
  for (const ok of ['alice', '_svc', 'a1_b-2', 'a'.repeat(32), 'jane.doe', 'j.r.doe']) t.is(safeAccount(ok), ok);
  for (const bad of [...HOSTILE, '.', '..', '.hidden', 'jane@facility.example', 42, null, undefined, ['alice']]) {
    const error = t.throws(() => safeAccount(bad), { instanceOf: UnsafeInputError }, JSON.stringify(bad));
    t.is(error?.field, 'account');
    t.regex(error?.message ?? '', /^refused account .*: a POSIX account name: a lowercase letter or _/);
  }
  t.regex(t.throws(() => safeAccount('x; rm -rf /', 'claim account'))?.message ?? '', /^refused claim account "x; rm -rf \/"/);
});

test('a refused value is shown escaped and short, so it cannot forge a log line', (t) => {
  const message = t.throws(() => safeAccount('alice\nFAKE LOG LINE' + 'x'.repeat(100)))?.message ?? '';
  t.false(message.includes('\n'));
  t.true(message.includes('alice\\nFAKE'));
  t.true(message.length < 200);
});

test('VM and pool names, roles and playbooks', (t) => {
  for (const ok of ['excitations-k3f9', 'a', '0day']) t.is(safeName(ok), ok);
  for (const bad of [...HOSTILE.filter((h) => h !== 'a'.repeat(33)), 'a.b', 'a/b', 'x'.repeat(64)]) t.throws(() => safeName(bad), { instanceOf: UnsafeInputError }, bad);
  t.is(safeRole('excitations'), 'excitations');
  for (const bad of ['excitations-gpu', '../common', 'Common', '{{ x }}']) t.throws(() => safeRole(bad), { instanceOf: UnsafeInputError });
  t.is(safePlaybook('claim.yml'), 'claim.yml');
  for (const bad of ['../claim.yml', '/etc/passwd', 'claim.yml; id', 'claim', 'sub/claim.yml']) t.throws(() => safePlaybook(bad), { instanceOf: UnsafeInputError });
});

test('addresses: IPv4, IPv6 and host names only', (t) => {
  for (const ok of ['10.16.0.1', '::1', 'fd00:1::5', 'vm-1.cloud.example', 'localhost']) t.is(safeAddress(ok), ok);
  for (const bad of ['10.16.0.1; id', '10.16.0.256', '999.1.1.1', '-oProxyCommand=id', 'a b', 'host\n', 'fe80::1%eth0', "{{ lookup('pipe','id') }}", '', 'a..b'])
    t.throws(() => safeAddress(bad), { instanceOf: UnsafeInputError }, bad);
});

test('paths: absolute, plain segments, no . or ..', (t) => {
  for (const ok of ['/', '/tmp/daaas-x1', '/home/alice/.ssh', '/a_b/c-d/e.f']) t.is(safePath(ok), ok);
  for (const bad of ['relative/path', '/tmp/../etc', '/tmp/./x', '../../etc', '/tmp//x', '/tmp/x/', '/tmp/a b', '/tmp/$(id)', "/tmp/{{ lookup('pipe','id') }}", '/tmp/x\n', '/tmp/x;rm'])
    t.throws(() => safePath(bad), { instanceOf: UnsafeInputError }, bad);
});

test('uids: whole numbers from 1; never root', (t) => {
  t.is(safeUid(1001), 1001);
  for (const bad of [0, -1, 1.5, '1001', Number.NaN, 1e12]) t.throws(() => safeUid(bad), { instanceOf: UnsafeInputError });
});

test('variable names: no ansible_* (they steer how Ansible connects and runs commands)', (t) => {
  t.is(safeVarName('common_packages'), 'common_packages');
  for (const bad of ['ansible_connection', 'ansible_shell_executable', 'Bad', 'a-b', 'a b', '{{x}}', '']) t.throws(() => safeVarName(bad), { instanceOf: UnsafeInputError }, bad);
});

test('extra vars: JSON data with printable strings and plain keys', (t) => {
  const vars = { common_packages: ['chrony', 'xrdp'], common_mounts: [{ src: 'h:/x', path: '/data', opts: 'ro' }], excitations_environment: { EXCITATIONS_HOME: '/opt/x' }, n: 3, on: true, none: null };
  t.deepEqual(safeExtraVars(vars), vars);
  t.throws(() => safeExtraVars({ a: 'line\nbreak' }), { instanceOf: UnsafeInputError, message: /extra var a.*without control characters/ });
  t.throws(() => safeExtraVars({ a: 'nul\u0000' }), { instanceOf: UnsafeInputError });
  t.throws(() => safeExtraVars({ a: { '{{ x }}': 1 } }), { instanceOf: UnsafeInputError, message: /key/ });
  t.throws(() => safeExtraVars({ a: { __ansible_vault: 'x' } }), { instanceOf: UnsafeInputError });
  t.throws(() => safeExtraVars({ ansible_become_exe: 'id' }), { instanceOf: UnsafeInputError });
  t.throws(() => safeExtraVars({ a: Number.POSITIVE_INFINITY }), { instanceOf: UnsafeInputError });
  t.throws(() => safeExtraVars({ a: new Date(0) }), { instanceOf: UnsafeInputError });
  t.throws(() => safeExtraVars(['a']), { instanceOf: UnsafeInputError });
});

test('every string in the vars file is wrapped so Ansible never templates it', (t) => {
  const json = toExtraVarsJson({ a: "{{ lookup('pipe','id') }}", list: ['x', 1, true, null], map: { k: 'v' } });
  t.deepEqual(JSON.parse(json), {
    a: { __ansible_unsafe: "{{ lookup('pipe','id') }}" },
    list: [{ __ansible_unsafe: 'x' }, 1, true, null],
    map: { k: { __ansible_unsafe: 'v' } },
  });
  t.throws(() => toExtraVarsJson({ 'bad name': 'x' }), { instanceOf: UnsafeInputError });
});
