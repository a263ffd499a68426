import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { ConfigError, loadConfig, parseConfig, type AppConfig, type Env } from '../../src/config/load-config.ts';
import { tempDir } from '../helpers/harness.ts';

const DEFAULT_PATH = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const DEFAULT_TEXT = readFileSync(DEFAULT_PATH, 'utf8');

const H = 3_600_000;
const M = 60_000;

/** The shipped configuration as a plain object, to change one thing at a time. */
type Doc = Record<string, any>;
function defaultDoc(): Doc {
  return YAML.parse(DEFAULT_TEXT) as Doc;
}
function yamlOf(doc: Doc): string {
  return YAML.stringify(doc);
}

/** A small valid configuration with one pool that inherits everything it can. */
function minimalDoc(): Doc {
  return {
    access: { groups: { team: ['alice'] } },
    cloud: {
      driver: 'simulated',
      simulated: { flavors: { 'm1.large': { vcpus: 4 } }, images: ['base'] },
    },
    pools: {
      alpha: {
        image: 'base',
        flavor: 'm1.large',
        size: 1,
        max: 2,
        groups: ['team'],
        owner: { name: 'Team', contact: 'team@example.org' },
      },
    },
  };
}

/** Parses and expects a refusal; returns the problems listed. */
function refused(t: ExecutionContext, text: string, env: Env = {}): string[] {
  const error = t.throws(() => parseConfig(text, 'bad.yaml', env), { instanceOf: ConfigError }) as ConfigError | undefined;
  if (!error) return [];
  t.is(error.source, 'bad.yaml');
  t.true(error.message.startsWith('bad.yaml is not a valid configuration:'), error.message);
  for (const problem of error.problems) t.true(error.message.includes(`  - ${problem}`), `message lists "${problem}"`);
  return error.problems;
}

function pool(config: AppConfig, name: string) {
  const found = config.pools.find((p) => p.name === name);
  if (!found) throw new Error(`no pool ${name} in ${config.pools.map((p) => p.name).join(', ')}`);
  return found;
}

// ---------------------------------------------------------------------------------------------
// The shipped configuration

test('the shipped config/default.yaml loads with its three pools', (t) => {
  const config = loadConfig(DEFAULT_PATH, {});
  t.is(config.source, DEFAULT_PATH);
  t.is(config.instance, 'daaas');
  t.deepEqual(
    config.pools.map((p) => p.name),
    ['excitations', 'excitations-gpu', 'tomography'],
  );

  const excitations = pool(config, 'excitations');
  t.like(excitations, { size: 5, max: 50, gpu: false, image: 'excitations-base', flavor: 'c1.4xlarge', groups: ['excitations'] });
  t.is(excitations.leaseMs, 48 * H);
  t.deepEqual(excitations.remindBeforeMs, [24 * H, 1 * H, 10 * M]);
  t.is(excitations.extensionStepMs, 24 * H);
  t.is(excitations.maxExtensions, 2);
  t.is(excitations.maxLeasesPerUser, 1);
  t.deepEqual(excitations.networks, ['facility-analysis']);

  const gpu = pool(config, 'excitations-gpu');
  t.like(gpu, { size: 1, max: 5, gpu: true, flavor: 'g1.gpu' });
  t.is(gpu.leaseMs, 48 * H);
  t.deepEqual(gpu.remindBeforeMs, [24 * H, 1 * H, 10 * M]);

  const tomography = pool(config, 'tomography');
  t.like(tomography, { size: 2, max: 3, gpu: true, maxExtensions: 1 });
  t.is(tomography.leaseMs, 24 * H);
  t.deepEqual(tomography.remindBeforeMs, [2 * H, 10 * M]);
  t.is(tomography.extensionStepMs, 12 * H);
  t.is(tomography.connect, 'Remote desktop: https://{address}:8443/ (log in as {account})');
});

test('the shipped config: access, scheduler, cloud and environment defaults', (t) => {
  const config = parseConfig(DEFAULT_TEXT, 'default.yaml', {});
  t.deepEqual(config.access.admins, []);
  t.true(config.access.localUserIsAdmin);
  t.deepEqual(config.access.groups, { excitations: ['alice', 'bob', 'carol'], tomography: ['dave', 'erin'] });
  t.deepEqual(config.scheduler, {
    schedule: '* * * * *',
    maxConcurrentBoots: 10,
    readinessTimeoutMs: 600_000,
    failedRetentionMs: 5 * M,
    backoffInitialMs: 30_000,
    backoffMaxMs: 30 * M,
    pollMs: 1_000,
    resyncEveryMs: 10 * M,
    timeZone: 'UTC',
    circuit: { failureLimit: 3, circuitRetryMs: 30 * M },
  });
  t.deepEqual(config.alerts, { repeatMs: 60 * M, emptyForMs: 5 * M, slackChannel: null, directToAdmins: true });
  if (config.cloud.driver !== 'simulated') return t.fail('the default runs on the simulated cloud');
  t.is(config.cloud.simulated.latency, 20);
  t.is(config.cloud.simulated.bootTime, 4_000);
  t.deepEqual(config.cloud.simulated.flavors, { 'c1.4xlarge': { vcpus: 16, gpus: 0 }, 'g1.gpu': { vcpus: 8, gpus: 1 } });
  if (config.provisioner.driver !== 'simulated') return t.fail('the default provisions in simulation');
  t.is(config.provisioner.simulated.provisionTime, 3_000);
  t.deepEqual(config.server, { host: '127.0.0.1', port: 3000 });
  t.is(config.dataDir, './var');
  t.is(config.logLevel, 'info');
});

// ---------------------------------------------------------------------------------------------
// Refusals: the file itself

test('an empty file is refused', (t) => {
  t.deepEqual(refused(t, ''), ['the file is empty: start from config/default.yaml']);
});

test('a whitespace-only file is refused as empty', (t) => {
  t.deepEqual(refused(t, '  \n\t\n   \n'), ['the file is empty: start from config/default.yaml']);
});

test('malformed YAML (an unclosed bracket) is refused with the parser message and line', (t) => {
  const problems = refused(t, 'instance: daaas\npools: [excitations\n');
  t.is(problems.length, 1);
  t.regex(problems[0]!, /^YAML error at line \d+, column \d+.*: .*\]/);
});

test('duplicate keys are refused', (t) => {
  const problems = refused(t, DEFAULT_TEXT.replace('instance: daaas\n', 'instance: daaas\ninstance: other\n'));
  t.is(problems.length, 1);
  const line = DEFAULT_TEXT.split('\n').indexOf('instance: daaas') + 2;
  t.regex(problems[0]!, new RegExp(`^YAML error at line ${line}, column 1 \\("instance: other"\\): Map keys must be unique`));
});

test('a list at the top level is refused', (t) => {
  t.deepEqual(refused(t, '- pools\n- access\n'), ['the top level must be a mapping (keys such as pools:, access:)']);
});

test('a scalar at the top level is refused', (t) => {
  t.deepEqual(refused(t, 'just some words\n'), ['the top level must be a mapping (keys such as pools:, access:)']);
  t.deepEqual(refused(t, '42\n'), ['the top level must be a mapping (keys such as pools:, access:)']);
});

test('a file of only comments is refused as not a mapping', (t) => {
  t.deepEqual(refused(t, '# nothing here yet\n'), ['the top level must be a mapping (keys such as pools:, access:)']);
});

// ---------------------------------------------------------------------------------------------
// Refusals: keys and values

test('an unknown key at the top level is refused', (t) => {
  const doc = defaultDoc();
  doc.pool = {};
  t.deepEqual(refused(t, yamlOf(doc)), ['(top level): unknown key "pool"']);
});

test('an unknown key inside a pool is refused with the pool path', (t) => {
  const doc = defaultDoc();
  doc.pools.excitations.leese = '48h';
  t.deepEqual(refused(t, yamlOf(doc)), ['pools.excitations: unknown key "leese"']);
});

for (const [label, value, message] of [
  ['an unknown unit', '48x', '"48x" is not a duration: write e.g. 90s, 10m, 48h or 2d'],
  ['an empty string', '', '"" is not a duration: write e.g. 90s, 10m, 48h or 2d'],
  ['a negative duration', '-5m', '"-5m" is not a duration: write e.g. 90s, 10m, 48h or 2d'],
  ['a zero duration', '0s', '"0s" is not a duration: write e.g. 90s, 10m, 48h or 2d'],
  ['a bare number', 48, 'expected a duration such as 90s, 10m, 48h or 2d'],
] as const) {
  test(`a bad duration is refused: ${label}`, (t) => {
    const inDefaults = defaultDoc();
    inDefaults.defaults.lease = value;
    t.deepEqual(refused(t, yamlOf(inDefaults)), [`defaults.lease: ${message}`]);

    const inPool = defaultDoc();
    inPool.pools.tomography.extensionStep = value;
    t.deepEqual(refused(t, yamlOf(inPool)), [`pools.tomography.extensionStep: ${message}`]);

    const inList = defaultDoc();
    inList.pools.tomography.remindBefore = ['2h', value];
    t.deepEqual(refused(t, yamlOf(inList)), [`pools.tomography.remindBefore.1: ${message}`]);
  });
}

test('size larger than max is refused', (t) => {
  const doc = defaultDoc();
  doc.pools.excitations.size = 60;
  t.deepEqual(refused(t, yamlOf(doc)), ['pools.excitations.size: size 60 is larger than max 50']);
});

test('size equal to max is accepted', (t) => {
  const doc = defaultDoc();
  doc.pools.tomography.size = 3;
  t.is(pool(parseConfig(yamlOf(doc), 'ok.yaml', {}), 'tomography').size, 3);
});

test('a reminder not shorter than the lease is refused', (t) => {
  const equal = defaultDoc();
  equal.pools.tomography.lease = '2h'; // its remindBefore is [2h, 10m]
  t.deepEqual(refused(t, yamlOf(equal)), ['pools.tomography.remindBefore: every reminder must come before the lease ends (shorter than the lease)']);

  const longer = defaultDoc();
  longer.pools.tomography.remindBefore = ['3d'];
  t.deepEqual(refused(t, yamlOf(longer)), ['pools.tomography.remindBefore: every reminder must come before the lease ends (shorter than the lease)']);
});

test('an inherited reminder not shorter than the pool lease is refused at the pool', (t) => {
  const doc = defaultDoc();
  doc.pools.excitations.lease = '12h'; // inherits remindBefore [24h, 1h, 10m]
  const problems = refused(t, yamlOf(doc));
  t.true(problems.length >= 1);
  for (const p of problems) t.is(p, 'pools.excitations.remindBefore: every reminder must come before the lease ends (shorter than the lease)');
});

test('a pool naming an undefined group is refused', (t) => {
  const doc = defaultDoc();
  doc.pools.tomography.groups = ['tomography', 'imaging'];
  t.deepEqual(refused(t, yamlOf(doc)), ['pools.tomography.groups: group "imaging" is not defined under access.groups']);
});

test('a flavor the simulated cloud does not have is refused', (t) => {
  const doc = defaultDoc();
  doc.pools.excitations.flavor = 'c9.huge';
  t.deepEqual(refused(t, yamlOf(doc)), [`pools.excitations.flavor: flavor "c9.huge" is not one of the simulated cloud's flavors`]);
});

test('an image the simulated cloud does not have is refused', (t) => {
  const doc = defaultDoc();
  doc.pools.tomography.image = 'tomography-cpu';
  t.deepEqual(refused(t, yamlOf(doc)), [`pools.tomography.image: image "tomography-cpu" is not one of the simulated cloud's images`]);
});

for (const badName of ['Tomography', 'tomo graphy', 'x', '9lives', 'ends-with-']) {
  test(`a bad pool name is refused: ${JSON.stringify(badName)}`, (t) => {
    const doc = defaultDoc();
    doc.pools[badName] = doc.pools.tomography;
    delete doc.pools.tomography;
    const problems = refused(t, yamlOf(doc));
    t.is(problems.length, 1, problems.join('\n'));
    t.is(problems[0], `pools.${badName}: not a valid pool name: use 2–32 lower-case letters, digits and dashes, starting with a letter`);
  });
}

test('a configuration without pools is refused', (t) => {
  const empty = defaultDoc();
  empty.pools = {};
  t.deepEqual(refused(t, yamlOf(empty)), ['pools: at least one pool is needed']);

  const missing = defaultDoc();
  delete missing.pools;
  const problems = refused(t, yamlOf(missing));
  t.is(problems.length, 1);
  t.true(problems[0]!.startsWith('pools: '), problems[0]);
});

test('a bad cron expression in scheduler.schedule is refused', (t) => {
  const doc = defaultDoc();
  doc.scheduler.schedule = 'every minute';
  t.deepEqual(refused(t, yamlOf(doc)), ['scheduler.schedule: "every minute" is not a cron expression (e.g. "* * * * *" for every minute)']);
});

test('the openstack driver needs no block of its own: it has defaults and takes the cloud from OS_CLOUD / OS_*', (t) => {
  const doc = defaultDoc();
  doc.cloud = { driver: 'openstack' };
  const config = parseConfig(yamlOf(doc), 'openstack.yaml', {});
  t.deepEqual(config.cloud, { driver: 'openstack', openstack: { pageSize: 200, timeout: 30_000, imageRefresh: 300_000, securityGroups: [] } });
});

test('openstack settings are checked: page size, durations, unknown keys', (t) => {
  const doc = defaultDoc();
  doc.cloud = { driver: 'openstack', openstack: { pageSize: 5000, timeout: 'soon', region: 'x' } };
  t.deepEqual(refused(t, yamlOf(doc)), [
    'cloud.openstack.pageSize: must be 1000 or less',
    'cloud.openstack.timeout: "soon" is not a duration: write e.g. 90s, 10m, 48h or 2d',
    'cloud.openstack: unknown key "region"',
  ]);
});

test('the ansible provisioner: defaults, and the settings each target needs', (t) => {
  const doc = defaultDoc();
  doc.provisioner = { driver: 'ansible', ansible: { ssh: { user: 'cloud-user' }, extraVars: { common_packages: ['htop'] } } };
  const config = parseConfig(yamlOf(doc), 'ansible.yaml', {});
  t.like(config.provisioner, {
    driver: 'ansible',
    ansible: { dir: 'ansible', command: 'ansible-playbook', target: 'address', ssh: { user: 'cloud-user', connectTimeout: 30_000 }, hostKeyChecking: true, maxConcurrent: 4, timeouts: { provision: 15 * M, claim: 2 * M, release: 2 * M }, extraVars: { common_packages: ['htop'] } },
  });
  doc.provisioner = { driver: 'ansible', ansible: { target: 'local', sandboxRoot: '../escape', facilities: { excitations: 'Bad Role' } } };
  t.deepEqual(refused(t, yamlOf(doc)), [
    'provisioner.ansible.sandboxRoot: an absolute path of letters, digits, ".", "_", "-" and "/"',
    'provisioner.ansible.facilities.excitations: a role name',
  ]);
  doc.provisioner = { driver: 'ansible', ansible: { target: 'local' } };
  t.deepEqual(refused(t, yamlOf(doc)), ['provisioner.ansible.sandboxRoot: needed with target "local": the plays then run on this machine, under that directory']);
  doc.provisioner = { driver: 'ansible' };
  t.deepEqual(refused(t, yamlOf(doc)), ['provisioner.ansible.ssh.user: needed with target "address": the account the plays log in to VMs with']);
  doc.provisioner = { driver: 'puppet' };
  t.deepEqual(refused(t, yamlOf(doc)), ['provisioner.driver: must be "simulated" (the embedded default) or "ansible"']);
});

test('the ansible run logs: 10 per VM and 200 MiB in all by default; sizes in KiB/MiB/GiB or KB/MB/GB; nonsense refused', (t) => {
  const doc = defaultDoc();
  doc.provisioner = { driver: 'ansible', ansible: { ssh: { user: 'cloud-user' } } };
  const logsOf = (text: string) => {
    const config = parseConfig(text, 'ansible.yaml', {});
    return config.provisioner.driver === 'ansible' ? config.provisioner.ansible.logs : undefined;
  };
  t.deepEqual(logsOf(yamlOf(doc)), { keepPerVm: 10, maxTotal: 200 * 1024 * 1024 });
  doc.provisioner = { driver: 'ansible', ansible: { ssh: { user: 'cloud-user' }, logs: { keepPerVm: 3, maxTotal: '1.5GiB' } } };
  t.deepEqual(logsOf(yamlOf(doc)), { keepPerVm: 3, maxTotal: 1.5 * 2 ** 30 });
  doc.provisioner = { driver: 'ansible', ansible: { ssh: { user: 'cloud-user' }, logs: { maxTotal: '500MB' } } };
  t.deepEqual(logsOf(yamlOf(doc)), { keepPerVm: 10, maxTotal: 500_000_000 });
  doc.provisioner = { driver: 'ansible', ansible: { ssh: { user: 'cloud-user' }, logs: { keepPerVm: 0, maxTotal: 'lots', keep: 2 } } };
  t.deepEqual(refused(t, yamlOf(doc)), [
    'provisioner.ansible.logs.keepPerVm: must be 1 or more',
    'provisioner.ansible.logs.maxTotal: "lots" is not a size: write e.g. 500MiB or 2GiB (KiB, MiB, GiB; KB, MB, GB)',
    'provisioner.ansible.logs: unknown key "keep"',
  ]);
  doc.provisioner = { driver: 'ansible', ansible: { ssh: { user: 'cloud-user' }, logs: { maxTotal: 200 } } };
  t.deepEqual(refused(t, yamlOf(doc)), ['provisioner.ansible.logs.maxTotal: expected a size such as 500MiB or 2GiB']);
});

test('an unsupported cloud driver is refused with a helpful message', (t) => {
  const doc = defaultDoc();
  doc.cloud.driver = 'aws';
  t.deepEqual(refused(t, yamlOf(doc)), ['cloud.driver: must be "simulated" (the embedded default) or "openstack"']);
});

// ---------------------------------------------------------------------------------------------
// Refusals: the environment

for (const port of ['abc', '70000', '-1', '80.5', '65536']) {
  test(`DAAAS_PORT=${port} is refused`, (t) => {
    t.deepEqual(refused(t, DEFAULT_TEXT, { DAAAS_PORT: port }), [`DAAAS_PORT: "${port}" is not a port number (0–65535; 0 picks a free one)`]);
  });
}

test('DAAAS_LOG_LEVEL must be a known level', (t) => {
  t.deepEqual(refused(t, DEFAULT_TEXT, { DAAAS_LOG_LEVEL: 'verbose' }), [
    'DAAAS_LOG_LEVEL: "verbose" is not one of fatal, error, warn, info, debug, trace, silent',
  ]);
  t.is(parseConfig(DEFAULT_TEXT, 'ok.yaml', { DAAAS_LOG_LEVEL: 'debug' }).logLevel, 'debug');
});

// ---------------------------------------------------------------------------------------------
// Every problem at once

test('several problems are all listed in one ConfigError', (t) => {
  const doc = defaultDoc();
  doc.pools.excitations.size = 60;
  doc.pools.tomography.groups = ['nobody'];
  const problems = refused(t, yamlOf(doc), { DAAAS_PORT: 'abc' });
  t.deepEqual(problems, [
    'pools.excitations.size: size 60 is larger than max 50',
    'pools.tomography.groups: group "nobody" is not defined under access.groups',
    'DAAAS_PORT: "abc" is not a port number (0–65535; 0 picks a free one)',
  ]);
});

test('several field problems in different places are all listed', (t) => {
  const doc = defaultDoc();
  doc.defaults.lease = '48x';
  doc.pools.excitations.leese = '48h';
  doc.instance = 'Not Valid';
  const problems = refused(t, yamlOf(doc), { DAAAS_LOG_LEVEL: 'loud' });
  t.is(problems.length, 4, problems.join('\n'));
  t.true(problems.some((p) => p.startsWith('instance: ')));
  t.true(problems.includes('defaults.lease: "48x" is not a duration: write e.g. 90s, 10m, 48h or 2d'));
  t.true(problems.includes('pools.excitations: unknown key "leese"'));
  t.true(problems.some((p) => p.startsWith('DAAAS_LOG_LEVEL: "loud"')));
});

test('field problems and cross-key problems are reported together, not one round after another', (t) => {
  const doc = defaultDoc();
  doc.defaults.lease = '48x';
  doc.pools.excitations.size = 60;
  doc.pools.excitations.leese = '48h';
  doc.scheduler.schedule = 'nope';
  doc.pools.Tomography = doc.pools.tomography;
  delete doc.pools.tomography;
  const problems = refused(t, yamlOf(doc));
  t.deepEqual([...problems].sort(), [
    'defaults.lease: "48x" is not a duration: write e.g. 90s, 10m, 48h or 2d',
    'pools.Tomography: not a valid pool name: use 2–32 lower-case letters, digits and dashes, starting with a letter',
    'pools.excitations.size: size 60 is larger than max 50',
    'pools.excitations: unknown key "leese"',
    'scheduler.schedule: "nope" is not a cron expression (e.g. "* * * * *" for every minute)',
  ]);
});

test('a lease shorter than several reminders is reported once for the pool', (t) => {
  const doc = defaultDoc();
  doc.pools.excitations.lease = '5m';
  t.deepEqual(refused(t, yamlOf(doc)), ['pools.excitations.remindBefore: every reminder must come before the lease ends (shorter than the lease)']);
});

test('a bad group name is refused with the naming rule', (t) => {
  const doc = defaultDoc();
  doc.access.groups['Bad Group'] = ['alice'];
  t.deepEqual(refused(t, yamlOf(doc)), ['access.groups.Bad Group: not a valid group name: use 2–32 lower-case letters, digits and dashes, starting with a letter']);
});

// ---------------------------------------------------------------------------------------------
// Environment overrides

test('DAAAS_ADMINS entries must be account names', (t) => {
  const problems = refused(t, DEFAULT_TEXT, { DAAAS_ADMINS: 'alice,bad name!,*,Jane.Doe,jane.doe' });
  t.is(problems.length, 3, problems.join('\n'));
  t.regex(problems[0]!, /^DAAAS_ADMINS: "bad name!" is not an account name: .*a lowercase letter or _/);
  t.regex(problems[1]!, /^DAAAS_ADMINS: "\*" is not an account name/);
  t.regex(problems[2]!, /^DAAAS_ADMINS: "Jane\.Doe" is not an account name: it has capital letters \(jane\.doe\?\)/);
});

test('an empty DAAAS_LOG_LEVEL means the default, like every other variable', (t) => {
  t.is(parseConfig(DEFAULT_TEXT, 'env.yaml', { DAAAS_LOG_LEVEL: '' }).logLevel, 'info');
});

test('DAAAS_HOST, DAAAS_PORT and DAAAS_DATA_DIR override the defaults', (t) => {
  const config = parseConfig(DEFAULT_TEXT, 'env.yaml', { DAAAS_HOST: '0.0.0.0', DAAAS_PORT: '8080', DAAAS_DATA_DIR: '/srv/daaas' });
  t.deepEqual(config.server, { host: '0.0.0.0', port: 8080 });
  t.is(config.dataDir, '/srv/daaas');
});

test('DAAAS_PORT=0 (pick a free port) and 65535 are accepted', (t) => {
  t.is(parseConfig(DEFAULT_TEXT, 'env.yaml', { DAAAS_PORT: '0' }).server.port, 0);
  t.is(parseConfig(DEFAULT_TEXT, 'env.yaml', { DAAAS_PORT: '65535' }).server.port, 65_535);
});

test('empty environment variables fall back to the defaults', (t) => {
  const config = parseConfig(DEFAULT_TEXT, 'env.yaml', { DAAAS_HOST: '', DAAAS_PORT: '', DAAAS_DATA_DIR: '', DAAAS_ADMINS: '' });
  t.deepEqual(config.server, { host: '127.0.0.1', port: 3000 });
  t.is(config.dataDir, './var');
  t.deepEqual(config.access.admins, []);
});

test('DAAAS_ADMINS adds admins, comma separated and trimmed', (t) => {
  const doc = minimalDoc();
  doc.access.admins = ['root'];
  const config = parseConfig(yamlOf(doc), 'env.yaml', { DAAAS_ADMINS: ' alice ,bob,, carol.smith ,' });
  t.deepEqual(config.access.admins, ['root', 'alice', 'bob', 'carol.smith']);
  // The configured groups are kept untouched.
  t.deepEqual(config.access.groups, { team: ['alice'] });
});

// ---------------------------------------------------------------------------------------------
// Pool defaults

test('a pool inherits every default it does not set', (t) => {
  const config = parseConfig(yamlOf(minimalDoc()), 'min.yaml', {});
  t.deepEqual(pool(config, 'alpha'), {
    name: 'alpha',
    description: '',
    image: 'base',
    flavor: 'm1.large',
    gpu: false,
    networks: [],
    size: 1,
    max: 2,
    leaseMs: 48 * H,
    remindBeforeMs: [24 * H, 1 * H, 10 * M],
    extensionStepMs: 24 * H,
    maxExtensions: 2,
    maxLeasesPerUser: 1,
    groups: ['team'],
    connect: 'ssh {account}@{address}',
    owner: { name: 'Team', contact: 'team@example.org' },
    queue: true,
    holdForMs: 10 * M,
    autoAssign: false,
    extendWhileQueued: 'once',
    idle: { afterMs: 12 * H, releaseAfterMs: null },
    graceWhenBusyMs: 2 * H,
  });
  t.is(config.instance, 'daaas');
  t.deepEqual(config.scheduler.schedule, '* * * * *');
  t.false(config.access.localUserIsAdmin);
});

test('the defaults section feeds pools, and a pool can override each field', (t) => {
  const doc = minimalDoc();
  doc.defaults = { lease: '3d', remindBefore: ['1h'], extensionStep: '6h', maxExtensions: 4, maxLeasesPerUser: 2, networks: ['net-a'], connect: 'go {address}' };
  doc.pools.beta = {
    ...doc.pools.alpha,
    description: 'Beta',
    gpu: true,
    lease: '1d',
    remindBefore: ['30m'],
    extensionStep: '2h',
    maxExtensions: 0,
    maxLeasesPerUser: 3,
    networks: ['net-b', 'net-c'],
    connect: 'rdp {address}',
  };
  const config = parseConfig(yamlOf(doc), 'defaults.yaml', {});

  t.like(pool(config, 'alpha'), {
    leaseMs: 72 * H,
    remindBeforeMs: [1 * H],
    extensionStepMs: 6 * H,
    maxExtensions: 4,
    maxLeasesPerUser: 2,
    networks: ['net-a'],
    connect: 'go {address}',
    gpu: false,
  });
  t.like(pool(config, 'beta'), {
    description: 'Beta',
    gpu: true,
    leaseMs: 24 * H,
    remindBeforeMs: [30 * M],
    extensionStepMs: 2 * H,
    maxExtensions: 0,
    maxLeasesPerUser: 3,
    networks: ['net-b', 'net-c'],
    connect: 'rdp {address}',
  });
});

test('remindBeforeMs is sorted largest first whatever the written order', (t) => {
  const doc = minimalDoc();
  doc.defaults = { remindBefore: ['10m', '24h', '1h'] };
  doc.pools.beta = { ...doc.pools.alpha, remindBefore: ['5m', '1h30m', '90s', '2h'] };
  const config = parseConfig(yamlOf(doc), 'order.yaml', {});
  t.deepEqual(pool(config, 'alpha').remindBeforeMs, [24 * H, 1 * H, 10 * M]);
  t.deepEqual(pool(config, 'beta').remindBeforeMs, [2 * H, 90 * M, 5 * M, 90_000]);
});

test('compound durations are understood', (t) => {
  const doc = minimalDoc();
  doc.pools.alpha.lease = '1d12h';
  doc.pools.alpha.extensionStep = '1h30m';
  const alpha = pool(parseConfig(yamlOf(doc), 'dur.yaml', {}), 'alpha');
  t.is(alpha.leaseMs, 36 * H);
  t.is(alpha.extensionStepMs, 90 * M);
});

// ---------------------------------------------------------------------------------------------
// loadConfig

test('loadConfig reads a file and applies the environment', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'bot.yaml');
  writeFileSync(path, yamlOf(minimalDoc()));
  const config = loadConfig(path, { DAAAS_PORT: '4000' });
  t.is(config.source, path);
  t.is(config.server.port, 4000);
  t.deepEqual(config.pools.map((p) => p.name), ['alpha']);
});

test('loadConfig refuses an invalid file naming the file', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'bot.yaml');
  writeFileSync(path, '   \n');
  const error = t.throws(() => loadConfig(path, {}), { instanceOf: ConfigError });
  t.is(error?.source, path);
  t.deepEqual(error?.problems, ['the file is empty: start from config/default.yaml']);
});

test('loadConfig on a missing file says it cannot be read', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'missing.yaml');
  const error = t.throws(() => loadConfig(path, {}), { instanceOf: ConfigError });
  t.is(error?.source, path);
  t.is(error?.problems.length, 1);
  t.regex(error?.problems[0] ?? '', /^cannot be read: ENOENT/);
  t.true(error?.message.includes(path));
});

// ---------------------------------------------------------------------------------------------
// Identity: who may become a facility account

const SLACK_ENV: Env = { SLACK_BOT_TOKEN: 'xoxb-config-test' };

test('Slack in use under an address rule needs slack.identity.domains; the refusal names the key and the way out', (t) => {
  const [problem, ...more] = refused(t, DEFAULT_TEXT, SLACK_ENV);
  t.deepEqual(more, []);
  t.regex(problem!, /^slack\.identity\.domains: needed with rule email-local-part while Slack is in use \(SLACK_BOT_TOKEN is set\): list the facility’s e-mail domains.*or set slack\.identity\.rule: map-only/);
  const doc = defaultDoc();
  doc.slack = { identity: { domains: [] } };
  t.regex(refused(t, yamlOf(doc), SLACK_ENV).join('\n'), /^slack\.identity\.domains: needed/, 'an empty list is no list');
  doc.slack = { identity: { domains: ['facility.example'] } };
  t.deepEqual(parseConfig(yamlOf(doc), 'ok.yaml', SLACK_ENV).slack.identity.domains, ['facility.example']);
  doc.slack = { identity: { rule: 'map-only', map: { U0123ABCD: 'jane.doe' } } };
  t.is(parseConfig(yamlOf(doc), 'ok.yaml', SLACK_ENV).slack.identity.rule, 'map-only', 'map-only needs no domains');
});

test('Teams in use (teams.enabled, credentials or anonymous mode in the environment) under an address rule needs teams.identity.domains', (t) => {
  for (const env of [{ clientId: '00000000-0000-0000-0000-000000000001' }, { MicrosoftAppId: 'x' }, { TEAMS_ALLOW_ANONYMOUS: '1' }] as Env[]) {
    const problems = refused(t, DEFAULT_TEXT, env);
    t.is(problems.length, 1, JSON.stringify(env));
    t.regex(problems[0]!, /^teams\.identity\.domains: needed with rule upn-local-part while Teams is in use/);
  }
  const doc = defaultDoc();
  doc.teams = { enabled: true, identity: { rule: 'email-local-part' } };
  t.regex(refused(t, yamlOf(doc)).join('\n'), /^teams\.identity\.domains: needed with rule email-local-part/);
  doc.teams = { enabled: true, identity: { domains: ['facility.example'] } };
  t.true(parseConfig(yamlOf(doc), 'ok.yaml', {}).teams.enabled);
  doc.teams = { enabled: true, identity: { rule: 'map-only' } };
  t.true(parseConfig(yamlOf(doc), 'ok.yaml', {}).teams.enabled);
});

test('without Slack or Teams in use (the embedded default: the terminal only) no domains are needed', (t) => {
  t.deepEqual(parseConfig(DEFAULT_TEXT, 'default.yaml', { SLACK_BOT_TOKEN: '' }).slack.identity.domains, []);
});

test('domains are mail domains, written without @', (t) => {
  const doc = defaultDoc();
  doc.slack = { identity: { domains: ['@facility.example', 'facility.example', 'Lab.Facility.Example', '*'] } };
  const problems = refused(t, yamlOf(doc), SLACK_ENV);
  t.deepEqual(problems, [
    'slack.identity.domains.0: "@facility.example" is not a mail domain: write it like facility.example (subdomains are included)',
    'slack.identity.domains.3: "*" is not a mail domain: write it like facility.example (subdomains are included)',
  ]);
});

test('the whole-address rules are gone: an address is not an account name; the refusal says what to use', (t) => {
  const doc = defaultDoc();
  doc.slack = { identity: { rule: 'email', domains: ['facility.example'] } };
  doc.teams = { identity: { rule: 'upn', domains: ['facility.example'] } };
  t.deepEqual(refused(t, yamlOf(doc)), [
    'slack.identity.rule: "email" would make whole addresses accounts, and an address is not an account name: use email-local-part (with domains) or map-only',
    'teams.identity.rule: "upn" would make whole addresses accounts, and an address is not an account name: use upn-local-part or email-local-part (with domains), or map-only',
  ]);
  doc.slack = { identity: { rule: 'nonsense' } };
  doc.teams = {};
  t.regex(refused(t, yamlOf(doc)).join('\n'), /^slack\.identity\.rule: .*email-local-part.*map-only/);
});

test('account names follow one rule everywhere in the file: admins, group members and identity maps', (t) => {
  const doc = defaultDoc();
  doc.access.admins = ['jane.doe', '*', 'Root'];
  doc.access.groups.excitations = ['*', 'o.brien', 'bad name', ''];
  doc.slack = { identity: { map: { U0123ABCD: 'Jane.Doe', 'wendy.smith@facility.example': 'wendy.smith', alice: 'alice' } } };
  doc.teams = { identity: { map: { '29:1abc': 'a;b', 'a1b2c3d4-0000-4000-8000-00000000000a': 'jdoe', 'sam@facility.example': 'sam', sam: 'sam' } } };
  const problems = refused(t, yamlOf(doc));
  const at = (prefix: string) => problems.filter((p) => p.startsWith(prefix));
  t.is(at('access.admins.1: "*" is not an account name').length, 1, problems.join('\n'));
  t.is(at('access.admins.2: "Root" is not an account name').length, 1);
  t.is(at('access.groups.excitations.2: "bad name" is not an account name').length, 1);
  t.is(at('access.groups.excitations.3: "" is not an account name').length, 1);
  t.is(at('slack.identity.map.U0123ABCD: "Jane.Doe" is not an account name').length, 1);
  t.deepEqual(at('slack.identity.map.alice'), ['slack.identity.map.alice: a key is a Slack user id (U… or W…, as Slack writes it) or an e-mail address']);
  t.is(at('teams.identity.map.29:1abc: "a;b" is not an account name').length, 1);
  t.deepEqual(at('teams.identity.map.sam'), ['teams.identity.map.sam: a key is an Entra object id, a Teams user id (29:…), a UPN or an e-mail address']);
  t.is(problems.length, 8, problems.join('\n'));
});

// access.directory: the facility directory.

const DIRECTORY = { driver: 'ldap', url: 'ldaps://ldap.facility.example', bindDn: 'cn=daaas-bot,ou=services,dc=facility,dc=example', userBase: 'ou=people,dc=facility,dc=example', groupBase: 'ou=groups,dc=facility,dc=example' };

test('access.directory: defaults, directory groups in pools and admins beside static ones; the password from the environment only', (t) => {
  const doc = minimalDoc();
  doc.access = { admins: ['root', 'ldap:daaas-admins'], groups: { team: ['alice'] }, directory: { ...DIRECTORY } };
  doc.pools.alpha.groups = ['ldap:Excitations Users', 'team'];
  const config = parseConfig(yamlOf(doc), 'site.yaml', { DAAAS_LDAP_BIND_PASSWORD: 'from-the-environment' });
  t.like(config.access.directory, { driver: 'ldap', preset: 'openldap', ttl: 5 * M, staleFor: H, timeout: 5_000, poolSize: 4, nestedDepth: 5, contact: 'the administrators of this bot', attributes: {} });
  t.deepEqual(config.access.admins, ['root', 'ldap:daaas-admins']);
  t.deepEqual(pool(config, 'alpha').groups, ['ldap:Excitations Users', 'team']);
  t.false(JSON.stringify(config).includes('from-the-environment'), 'the password is not part of the configuration');

  const problems = refused(t, yamlOf(doc));
  t.deepEqual(problems, ['access.directory.bindDn: the bind password comes from the environment variable DAAAS_LDAP_BIND_PASSWORD, which is not set']);
  doc.access.directory.password = 'oops';
  t.true(refused(t, yamlOf(doc), { DAAAS_LDAP_BIND_PASSWORD: 'x' }).includes('access.directory.password: never put the password in the file: set DAAAS_LDAP_BIND_PASSWORD'));
});

test('access.directory: every problem listed — no directory for ldap: groups, a bad address, staleFor under ttl, bad names', (t) => {
  const doc = minimalDoc();
  doc.access.admins = ['ldap:admins'];
  doc.pools.alpha.groups = ['ldap:users', 'ldap:(bad)'];
  const without = refused(t, yamlOf(doc));
  t.true(without.includes('access.admins: "ldap:admins" is a directory group, but access.directory is not configured'), without.join('\n'));
  t.true(without.includes('pools.alpha.groups: "ldap:users" is a directory group, but access.directory is not configured'));
  t.true(without.some((p) => /^pools\.alpha\.groups\.1: a directory group is written ldap:<group name>/.test(p)));

  doc.pools.alpha.groups = ['ldap:users'];
  doc.access.directory = { ...DIRECTORY, url: 'http://ldap.facility.example', ttl: '2h', staleFor: '1h', preset: 'novell', userFilter: 'objectClass=person', poolSize: 0 };
  const bad = refused(t, yamlOf(doc), { DAAAS_LDAP_BIND_PASSWORD: 'x' });
  t.true(bad.some((p) => p.startsWith('access.directory.url: an ldap:// (StartTLS is used) or ldaps:// address')), bad.join('\n'));
  t.true(bad.some((p) => p.startsWith('access.directory.preset:')));
  t.true(bad.some((p) => p.startsWith('access.directory.userFilter: an LDAP filter in parentheses')));
  t.true(bad.some((p) => p.startsWith('access.directory.poolSize:')));
  doc.access.directory = { ...DIRECTORY, ttl: '2h', staleFor: '1h' };
  t.deepEqual(refused(t, yamlOf(doc), { DAAAS_LDAP_BIND_PASSWORD: 'x' }), ['access.directory.staleFor: staleFor must be at least ttl (answers are used stale only after they are due again)']);
  doc.access.directory = { ...DIRECTORY, preset: 'active-directory', attributes: { homeDirectory: 'unixHomeDirectory', memberUid: '' } };
  t.like(parseConfig(yamlOf(doc), 'ad.yaml', { DAAAS_LDAP_BIND_PASSWORD: 'x' }).access.directory, { preset: 'active-directory', attributes: { homeDirectory: 'unixHomeDirectory', memberUid: '' } });
});

test('problems are said in words, not in the validation library\'s: bounds, types, choices, missing keys', (t) => {
  const doc = defaultDoc();
  const pool = doc.pools.excitations;
  pool.size = -1;
  pool.groups = [];
  pool.image = '';
  pool.gpu = 'yes';
  doc.scheduler = { maxConcurrentBoots: 'four' };
  delete pool.flavor;
  doc.cloud.simulated.failureRate = 2;
  const problems = refused(t, yamlOf(doc));
  for (const expected of [
    'pools.excitations.size: must be 0 or more',
    'pools.excitations.groups: must list at least 1 entry',
    'pools.excitations.image: must not be empty',
    'pools.excitations.gpu: must be true or false, not the text "yes"',
    'pools.excitations.flavor: missing: it must be text',
    'scheduler.maxConcurrentBoots: must be a number, not the text "four"',
  ]) t.true(problems.includes(expected), `${expected}\nin:\n${problems.join('\n')}`);
  t.false(problems.some((p) => /Too small|Too big|Invalid input|Unrecognized key|expected \w+, received/.test(p)), problems.join('\n'));
});

test('one stray YAML line is one problem, with its line, not a cascade', (t) => {
  const lines = DEFAULT_TEXT.split('\n');
  const at = lines.findIndex((l) => /^  excitations:$/.test(l));
  lines.splice(at + 1, 0, '   image excitations-base');
  const problems = refused(t, lines.join('\n'));
  t.is(problems.length, 1, problems.join('\n'));
  t.regex(problems[0]!, new RegExp(`^YAML error at line ${at + 2}, column \\d+ \\("image excitations-base"\\): .+ \\(fix it first: the parser's \\d+ other complaints follow from it\\)$`));
  t.notRegex(problems[0]!, /:$/, 'no dangling colon');
});

test('switching the default to driver: openstack says the simulated: block belongs to the simulated driver', (t) => {
  const text = DEFAULT_TEXT.replace(/(\ncloud:\n(?:#.*\n)*  driver:) simulated/, '$1 openstack');
  t.not(text, DEFAULT_TEXT);
  t.deepEqual(refused(t, text), ['cloud.simulated: this block belongs to driver: simulated, and cloud.driver is "openstack": remove the block, or set cloud.driver: simulated']);
  const provisioner = defaultDoc();
  provisioner.provisioner.driver = 'ansible';
  provisioner.provisioner.ansible = { target: 'local', sandboxRoot: '/srv/sandbox' };
  t.deepEqual(refused(t, yamlOf(provisioner)), ['provisioner.simulated: this block belongs to driver: simulated, and provisioner.driver is "ansible": remove the block, or set provisioner.driver: simulated']);
});

test('an invalid DAAAS_HOST is blamed on DAAAS_HOST, not DAAAS_PORT; addresses and host names pass', (t) => {
  for (const host of ['999.1.1.1', 'bad host', '10.0.0.300', 'host_name', '-x']) {
    const error = t.throws(() => parseConfig(DEFAULT_TEXT, 'd.yaml', { DAAAS_HOST: host }), { instanceOf: ConfigError });
    t.deepEqual(error!.problems, [`DAAAS_HOST: "${host}" is not an IP address or a host name (the address to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::)`]);
  }
  for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'bot.facility.example']) t.is(parseConfig(DEFAULT_TEXT, 'd.yaml', { DAAAS_HOST: host }).server.host, host);
});

test('retention: history is kept 90 days and the audit trail 400 unless the configuration says otherwise', (t) => {
  const DAY = 24 * H;
  t.deepEqual(parseConfig(DEFAULT_TEXT, 'default.yaml', {}).retention, { historyMs: 90 * DAY, auditMs: 400 * DAY });
  const set = parseConfig(`${DEFAULT_TEXT}\nretention: 30d\nauditRetention: 730d\n`, 'x.yaml', {});
  t.deepEqual(set.retention, { historyMs: 30 * DAY, auditMs: 730 * DAY });
  t.true(refused(t, `${DEFAULT_TEXT}\nretention: forever\n`).some((p) => p.startsWith('retention:')));
});
