import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cloudConfigured, OpenStackConfigError, resolveOpenStack } from '../../../src/adapters/openstack/os-config.ts';
import { tempDir } from '../../helpers/harness.ts';

const OPENRC = {
  OS_AUTH_URL: 'https://keystone.facility.example:5000/v3/',
  OS_USERNAME: 'excitations-bot',
  OS_PASSWORD: 'pw',
  OS_PROJECT_NAME: 'excitations',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'RegionOne',
  OS_INTERFACE: 'public',
};

function dirs(t: { teardown: (fn: () => void) => void }) {
  const cwd = tempDir();
  const home = tempDir();
  t.teardown(() => {
    cwd.remove();
    home.remove();
  });
  return { cwd: cwd.path, home: home.path };
}

test('an openrc (OS_* variables) gives password settings; the trailing slash of the URL is dropped', (t) => {
  const s = resolveOpenStack(OPENRC);
  t.is(s.source, 'the OS_* variables');
  t.is(s.authUrl, 'https://keystone.facility.example:5000/v3');
  t.deepEqual(s.auth, {
    kind: 'password',
    username: 'excitations-bot',
    userId: undefined,
    password: 'pw',
    userDomain: { name: 'Default', id: undefined },
    project: { name: 'excitations', id: undefined },
    projectDomain: { name: 'Default', id: undefined },
  });
  t.is(s.region, 'RegionOne');
  t.is(s.interface, 'public');
  t.true(s.verifyTls);
});

test('OS_ENDPOINT_TYPE=internalURL and OS_INSECURE are understood as the CLI understands them', (t) => {
  const s = resolveOpenStack({ ...OPENRC, OS_INTERFACE: '', OS_ENDPOINT_TYPE: 'internalURL', OS_INSECURE: 'true' });
  t.is(s.interface, 'internal');
  t.false(s.verifyTls);
});

test('an application credential needs no project and no password', (t) => {
  const s = resolveOpenStack({ OS_AUTH_URL: 'https://k/v3', OS_AUTH_TYPE: 'v3applicationcredential', OS_APPLICATION_CREDENTIAL_ID: 'abc', OS_APPLICATION_CREDENTIAL_SECRET: 's3' });
  t.deepEqual(s.auth, { kind: 'application_credential', id: 'abc', name: undefined, secret: 's3', username: undefined, userId: undefined, userDomain: { name: undefined, id: undefined } });
});

test('incomplete variables: every missing one is named at once, by its variable name', (t) => {
  const error = t.throws(() => resolveOpenStack({ OS_AUTH_URL: 'https://k/v3', OS_USERNAME: 'bot' }), { instanceOf: OpenStackConfigError });
  t.is(
    error?.message,
    'OpenStack settings from the OS_* variables are incomplete: OS_PASSWORD is missing; OS_PROJECT_NAME (or OS_PROJECT_ID) is missing: the bot needs a token scoped to its project; OS_USER_DOMAIN_NAME (or OS_USER_DOMAIN_ID) is missing',
  );
  t.throws(() => resolveOpenStack({ ...OPENRC, OS_AUTH_TYPE: 'token' }), { message: /OS_AUTH_TYPE "token" is not supported/ });
  t.throws(() => resolveOpenStack({ ...OPENRC, OS_INTERFACE: 'private' }), { message: /OS_INTERFACE "private" is not public, internal or admin/ });
  t.throws(() => resolveOpenStack({ ...OPENRC, OS_CACERT: '/nonexistent/ca.pem' }), { message: /OS_CACERT: \/nonexistent\/ca\.pem does not exist/ });
});

test('nothing configured: says both ways to configure a cloud', (t) => {
  t.false(cloudConfigured({}));
  t.throws(() => resolveOpenStack({}), { message: /set OS_CLOUD to an entry of clouds\.yaml, or source an openrc file/ });
});

test('OS_CLOUD reads clouds.yaml from the CLI search path, with passwords merged from secure.yaml', (t) => {
  const { cwd, home } = dirs(t);
  mkdirSync(join(home, '.config', 'openstack'), { recursive: true });
  writeFileSync(
    join(home, '.config', 'openstack', 'clouds.yaml'),
    `clouds:
  facility:
    auth:
      auth_url: https://keystone.facility.example:5000/v3
      username: excitations-bot
      project_name: excitations
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionTwo
    interface: internal
    verify: false
  other: {}
`,
  );
  writeFileSync(join(cwd, 'secure.yaml'), 'clouds:\n  facility:\n    auth:\n      password: from-secure\n');
  t.true(cloudConfigured({ OS_CLOUD: 'facility' }));
  const s = resolveOpenStack({ OS_CLOUD: 'facility' }, { cwd, home });
  t.is(s.source, `clouds.yaml entry "facility" (${join(home, '.config', 'openstack', 'clouds.yaml')})`);
  t.is(s.auth.kind === 'password' && s.auth.password, 'from-secure');
  t.is(s.region, 'RegionTwo');
  t.is(s.interface, 'internal');
  t.false(s.verifyTls);

  const missing = t.throws(() => resolveOpenStack({ OS_CLOUD: 'nope' }, { cwd, home }));
  t.regex(missing?.message ?? '', /has no cloud "nope" \(it has: facility, other\)/);
  t.throws(() => resolveOpenStack({ OS_CLOUD: 'other' }, { cwd, home }), { message: /clouds\.yaml entry "other" .* incomplete: auth\.auth_url is missing/ });
});

test('the current directory wins over the home directory; OS_CLIENT_CONFIG_FILE wins over both; a cloud named in config wins over OS_CLOUD', (t) => {
  const { cwd, home } = dirs(t);
  const entry = (url: string) => `clouds:\n  c:\n    auth: { auth_url: ${url}, application_credential_id: i, application_credential_secret: s }\n`;
  mkdirSync(join(home, '.config', 'openstack'), { recursive: true });
  writeFileSync(join(home, '.config', 'openstack', 'clouds.yaml'), entry('https://home/v3'));
  writeFileSync(join(cwd, 'clouds.yaml'), entry('https://cwd/v3'));
  t.is(resolveOpenStack({ OS_CLOUD: 'c' }, { cwd, home }).authUrl, 'https://cwd/v3');
  const explicit = join(cwd, 'explicit.yaml');
  writeFileSync(explicit, entry('https://explicit/v3'));
  t.is(resolveOpenStack({ OS_CLOUD: 'c', OS_CLIENT_CONFIG_FILE: explicit }, { cwd, home }).authUrl, 'https://explicit/v3');
  t.is(resolveOpenStack({ OS_CLOUD: 'elsewhere' }, { cwd, home, cloud: 'c' }).authUrl, 'https://cwd/v3');
  writeFileSync(join(cwd, 'clouds.yaml'), 'clouds: [');
  t.throws(() => resolveOpenStack({ OS_CLOUD: 'c' }, { cwd, home }), { message: /clouds\.yaml is not valid YAML/ });
});

test('OS_CLOUD without any clouds.yaml lists where it looked', (t) => {
  const { cwd, home } = dirs(t);
  const error = t.throws(() => resolveOpenStack({ OS_CLOUD: 'facility' }, { cwd, home }));
  t.regex(error?.message ?? '', /OS_CLOUD is "facility" but no clouds\.yaml was found \(looked in .*clouds\.yaml, .*\.config\/openstack\/clouds\.yaml, \/etc\/openstack\/clouds\.yaml\)/);
});
