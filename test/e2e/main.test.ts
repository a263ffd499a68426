import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startBot, until } from '../helpers/bot-process.ts';
import { tempDir } from '../helpers/harness.ts';

/** The default pools with boots and leases short enough to watch a whole lifecycle. */
const FAST = `
access:
  admins: []
  localUserIsAdmin: true
  groups: { physics: [alice] }
scheduler: { poll: 100ms, maxConcurrentBoots: 10 }
cloud:
  driver: simulated
  simulated:
    bootTime: 300ms
    latency: 5ms
    flavors: { m1.large: { vcpus: 4 } }
    images: [physics-base]
provisioner: { driver: simulated, simulated: { provisionTime: 300ms } }
pools:
  physics:
    image: physics-base
    flavor: m1.large
    size: 2
    max: 4
    lease: 5s
    remindBefore: [3s]
    groups: [physics]
    owner: { name: Physics, contact: physics@facility.example }
`;

const start = startBot;

function fastConfig(dir: string, text = FAST): string {
  const path = join(dir, 'config.yaml');
  writeFileSync(path, text);
  return path;
}

test('a script on stdin: each line answered in order, reminders and teardown as direct messages, clean exit', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: fastConfig(dir.path) }, ['--user', 'alice']);
  bot.child.stdin.write('/daaas pools\n');
  await until('the pools answer', () => bot.stdout().includes('you may claim'));
  await delay(1_500); // boot + provisioning: 0.6 s
  bot.child.stdin.write('/daaas claim physics\nstatus\n');
  await until('the teardown message', () => bot.stdout().includes('has been torn down'));
  bot.child.stdin.write('status\n');
  bot.child.stdin.end();
  t.is(await bot.exit, 0, bot.stderr());
  const out = bot.stdout();
  t.regex(out, /alice> \/daaas pools\n• Pools/);
  t.regex(out, /alice> \/daaas claim physics\n✔ physics-\w{4} is yours for 5s/);
  t.regex(out, /Connect: ssh alice@10\.\d+\.\d+\.\d+/);
  t.regex(out, /\[direct message to alice\]\n! physics-\w{4} will be torn down in [23]s/);
  t.regex(out, /\[direct message to alice\]\n• physics-\w{4} has been torn down/);
  t.regex(out, /alice> status\n• You have no VM at the moment\.\n[^]*$/, 'the last answer printed before exit');
  t.regex(out.slice(out.indexOf('alice> status'), out.lastIndexOf('alice> status')), /• Your VM\n/, 'the first status showed the VM');
});

test('end of input right away: the pending answers are printed and the bot exits 0', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: fastConfig(dir.path) });
  bot.child.stdin.end('help\nadmin pools\nclaim physics\nno-such-command\n');
  t.is(await bot.exit, 0, bot.stderr());
  const out = bot.stdout();
  t.regex(out, /• DAaaS: analysis VMs on demand/);
  t.regex(out, /• Pools \(admin\)/, 'the local user is an admin by default');
  t.regex(out, /• You are number 1 in the queue for physics/, "an empty pool queues the claim (queue: true by default)");
  t.regex(out, /✖ There is no command "no-such-command"/);
});

test('end of piped input right after a claim: the bot waits for the home set-up, says so, and the lease is ready at the next start', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const config = fastConfig(dir.path, FAST.replace('provisionTime: 300ms', 'provisionTime: 300ms, personaliseTime: 2s').replace('lease: 5s', 'lease: 1h'));
  const env = { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: config };
  const bot = start(t, env, ['--user', 'alice']);
  bot.child.stdin.write('pools\n');
  await until('a ready VM', () => existsSync(join(dir.path, 'var', 'daaas.log')) && readFileSync(join(dir.path, 'var', 'daaas.log'), 'utf8').includes('"msg":"ready"'));
  bot.child.stdin.end('claim physics\n');
  t.is(await bot.exit, 0, bot.stderr());
  const out = bot.stdout();
  t.regex(out, /✔ physics-\w{4} is yours for 1h/);
  t.regex(out, /\(End of input: waiting up to 60 s for 1 home set-up to finish\.\)/);
  t.regex(out, /\[direct message to alice\]\n✔ [^\n]*is ready for you/, 'the home-ready message, before the bot stopped');
  t.notRegex(out, /Stopped waiting/);

  const again = start(t, env, ['--user', 'alice']);
  again.child.stdin.end('status\n');
  t.is(await again.exit, 0, again.stderr());
  t.regex(again.stdout(), /Home directory\W+ready/);
  t.notRegex(again.stdout(), /being set up/);
});

test('--user chats as another account, who is not an admin unless the config says so', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: fastConfig(dir.path) }, ['--user', 'mallory']);
  bot.child.stdin.end('admin pools\nclaim physics\n');
  t.is(await bot.exit, 0);
  t.regex(bot.stdout(), /mallory> admin pools\n✖ "admin pools" is for admins of the bot\./);
  t.regex(bot.stdout(), /Pool physics is for members of physics, and you are not one\./);
});

test('--no-shell runs as a service: /healthz, /readyz and /metrics answer on DAAAS_HOST:DAAAS_PORT and SIGTERM stops it cleanly', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: fastConfig(dir.path), DAAAS_HOST: '127.0.0.1' }, ['--no-shell']);
  await until('the listening log line', () => /"msg":"listening"/.test(bot.stdout()));
  const port = Number(/"port":(\d+)/.exec(bot.stdout())?.[1]);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  t.is(health.status, 200);
  t.deepEqual(await health.json(), { status: 'ok' });
  t.is((await fetch(`http://127.0.0.1:${port}/nowhere`)).status, 404);
  t.is((await fetch(`http://127.0.0.1:${port}/healthz`, { method: 'POST' })).status, 405);
  await until('the pools to fill', () => (bot.stdout().match(/"msg":"ready"/g) ?? []).length >= 2);
  await delay(300); // the next tick sees them
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  const readiness = (await ready.json()) as { status: string; checks: { name: string; ok: boolean }[] };
  t.is(ready.status, 200, JSON.stringify(readiness));
  t.deepEqual(readiness.checks.map((c) => [c.name, c.ok]), [['store', true], ['cloud', true]]);
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.regex(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await metrics.text();
  t.regex(text, /daaas_pool_vms\{pool="physics",state="ready"\} 2/);
  t.regex(text, /daaas_cloud_calls_total\{operation="boot",result="ok"\} 2/);
  t.regex(text, /daaas_scheduler_tick_duration_seconds_count [1-9]/);
  t.regex(text, /daaas_boot_duration_seconds_count\{pool="physics"\} 2/);
  t.regex(text, /daaas_process_resident_memory_bytes/);
  bot.child.kill('SIGTERM');
  t.is(await bot.exit, 0);
  t.regex(bot.stdout(), /"msg":"stopped"/);
});

test('an invalid configuration stops start-up with every problem listed and exit code 1', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const bad = fastConfig(dir.path, FAST.replace('lease: 5s', 'lease: 5 days').replace('size: 2', 'size: 9'));
  const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: bad, DAAAS_PORT: 'http' });
  t.is(await bot.exit, 1);
  t.regex(bot.stderr(), /The bot did not start\..*is not a valid configuration/);
  t.regex(bot.stderr(), /pools\.physics\.lease: "5 days" is not a duration/);
  t.regex(bot.stderr(), /DAAAS_PORT: "http" is not a port number/);
});

test('cloud.driver openstack without a cloud configured: start-up stops saying how to configure one', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const config = fastConfig(dir.path, FAST.replace(/cloud:[^]*?provisioner:/, 'cloud: { driver: openstack }\nprovisioner:'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('OS_')).map(([k]) => [k, '']));
  const bot = start(t, { ...env, DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: config }, ['--no-shell']);
  t.is(await bot.exit, 1);
  t.regex(bot.stderr(), /The bot did not start: no OpenStack cloud is configured: set OS_CLOUD to an entry of clouds\.yaml, or source an openrc file/);
});

test('provisioner.driver ansible without ansible-playbook: start-up stops saying what to install', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const config = fastConfig(dir.path, FAST.replace(/provisioner:.*\n/, `provisioner: { driver: ansible, ansible: { command: no-such-ansible-playbook, target: local, sandboxRoot: ${join(dir.path, 'vm')} } }\n`));
  const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: config }, ['--no-shell']);
  t.is(await bot.exit, 1);
  t.regex(bot.stderr(), /The bot did not start: ansible-playbook is not installed .*apt-get install --no-install-recommends ansible-core/);
});

test('--help explains the options and the environment', async (t) => {
  const bot = start(t, {}, ['--help']);
  t.is(await bot.exit, 0);
  t.regex(bot.stdout(), /--user NAME/);
  t.regex(bot.stdout(), /DAAAS_DATA_DIR/);
  const short = start(t, {}, ['-h']);
  t.is(await short.exit, 0);
  t.is(short.stdout(), bot.stdout(), '-h is --help');
  const wrong = start(t, {}, ['--frobnicate']);
  t.is(await wrong.exit, 2);
  t.regex(wrong.stderr(), /Unknown option '--frobnicate'/);
});

test('a --user that is not an account name is refused at start, in plain words, with exit code 1 and nothing left behind', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  for (const user of ['', 'a;rm -rf', 'bad name', 'Alice']) {
    const dataDir = join(dir.path, 'var');
    const bot = start(t, { DAAAS_DATA_DIR: dataDir, DAAAS_CONFIG: fastConfig(dir.path) }, ['--user', user]);
    bot.child.stdin.end('admin pools\nclaim physics\n');
    t.is(await bot.exit, 1, `--user ${JSON.stringify(user)}: ${bot.stdout()}`);
    const lines = bot.stderr().trim().split('\n');
    t.true(lines.length <= 2, bot.stderr());
    t.true(lines[0]!.startsWith(`The bot did not start: --user ${JSON.stringify(user)} is not an account name`), bot.stderr());
    t.regex(bot.stderr(), /jane\.doe/, 'says what a name looks like');
    t.false(/ at .*\.ts:\d+/.test(bot.stderr()), 'no stack trace');
    t.is(bot.stdout(), '', 'no chat, no lease');
    t.false(existsSync(dataDir), 'no data directory, lock or pid file made');
  }
});

test('Slack configured under an address rule without domains: start-up stops, naming the key to set', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: fastConfig(dir.path), SLACK_BOT_TOKEN: 'xoxb-never-used', SLACK_API_URL: 'http://127.0.0.1:9/api/' }, ['--no-shell']);
  t.not(await bot.exit, 0);
  t.regex(bot.stderr(), /slack\.identity\.domains: needed with rule email-local-part/);
  t.false(bot.stderr().includes('xoxb-never-used'));
});

test('a bad DAAAS_HOST is blamed on DAAAS_HOST, a port in use on DAAAS_PORT', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const config = fastConfig(dir.path);
  const refusal = async (env: Record<string, string>) => {
    const bot = start(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: config, ...env }, ['--no-shell']);
    t.is(await bot.exit, 1);
    return bot.stderr();
  };
  t.regex(await refusal({ DAAAS_HOST: '999.1.1.1' }), /DAAAS_HOST: "999\.1\.1\.1" is not an IP address or a host name/);
  // An address of no interface here (TEST-NET-1, documentation only).
  const foreign = await refusal({ DAAAS_HOST: '192.0.2.1' });
  t.regex(foreign, /cannot listen on 192\.0\.2\.1:0 .*Set DAAAS_HOST to an address of this machine/);
  t.notRegex(foreign, /DAAAS_PORT/);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = String((taken.address() as { port: number }).port);
  t.regex(await refusal({ DAAAS_HOST: '127.0.0.1', DAAAS_PORT: port }), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} .*Set DAAAS_PORT to a free port`));
});
