import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lockDataDir } from '../../src/adapters/data-dir-lock.ts';
import { FakeOpenStack } from '../helpers/fake-openstack.ts';
import { tempDir } from '../helpers/harness.ts';
import { readOnlyView } from '../helpers/read-only-dir.ts';

const CONFIG = `
access: { groups: { physics: [alice] } }
cloud: { driver: openstack }
pools:
  physics: { image: physics-base, flavor: m1.small, networks: [], size: 2, max: 4, groups: [physics], owner: { name: P, contact: p@facility.example } }
`;

function daaas(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/daaas.ts', ...args], { env: { ...clean, ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

test('cloud check against a cloud that has it all: findings listed, exit 0, and --json for scripts', async (t) => {
  const fake = await new FakeOpenStack().start();
  t.teardown(() => fake.stop());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const env = { ...fake.env(), DAAAS_CONFIG: join(dir.path, 'c.yaml') };
  const text = await daaas(['cloud', 'check'], env);
  t.is(text.code, 0, text.err);
  t.regex(text.out, /✔ pool physics: image: "physics-base" is [0-9a-f-]{36}/);
  t.regex(text.out, /All good: the bot can fill every pool on this cloud\./);
  const json = await daaas(['cloud', 'check', '--json'], env);
  t.is(json.code, 0);
  t.true((JSON.parse(json.out) as { ok: boolean }).ok);
});

test('cloud check: a missing flavour exits 1; no cloud configured exits 2 naming both ways; a bad command exits 2 with help', async (t) => {
  const fake = await new FakeOpenStack().start();
  t.teardown(() => fake.stop());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG.replace('m1.small', 'c9.huge'));
  const missing = await daaas(['cloud', 'check'], { ...fake.env(), DAAAS_CONFIG: join(dir.path, 'c.yaml') });
  t.is(missing.code, 1);
  t.regex(missing.out, /✖ pool physics: flavor: .*"c9\.huge" does not exist/);
  t.regex(missing.out, /1 problem found/);
  const none = await daaas(['cloud', 'check'], { DAAAS_CONFIG: join(dir.path, 'c.yaml') });
  t.is(none.code, 2);
  t.regex(none.err, /no OpenStack cloud is configured: set OS_CLOUD .* or source an openrc/);
  const bad = await daaas(['cloud', 'frobnicate'], {});
  t.is(bad.code, 2);
  t.regex(bad.err, /Unknown command "cloud frobnicate"[^]*Usage: npm run daaas/);
  const sim = await daaas(['cloud', 'check'], {});
  t.is(sim.code, 0);
  t.regex(sim.out, /uses the simulated cloud/);
});

const SIM = `
access: { groups: { physics: [alice] } }
cloud: { driver: simulated, simulated: { bootTime: 100ms, latency: 0, flavors: { m1.large: { vcpus: 4 } }, images: [physics-base] } }
provisioner: { driver: simulated, simulated: { provisionTime: 100ms } }
pools:
  physics: { image: physics-base, flavor: m1.large, size: 2, max: 4, groups: [physics], owner: { name: P, contact: p@facility.example } }
`;

test('config check: valid says what it found; invalid lists every problem, exit 1; --json for scripts', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'good.yaml'), SIM);
  writeFileSync(join(dir.path, 'bad.yaml'), SIM.replace('size: 2', 'size: 9').replace('bootTime: 100ms', 'bootTime: soon'));
  const good = await daaas(['config', 'check'], { DAAAS_CONFIG: join(dir.path, 'good.yaml') });
  t.is(good.code, 0);
  t.regex(good.out, /✔ .*good\.yaml is valid: 1 pool\(s\) \(physics 2\/4\), cloud simulated, provisioner simulated\./);
  const bad = await daaas(['config', 'check', '--json'], { DAAAS_CONFIG: join(dir.path, 'bad.yaml') });
  t.is(bad.code, 1);
  const report = JSON.parse(bad.out) as { ok: boolean; problems: string[] };
  t.false(report.ok);
  t.deepEqual(report.problems.sort(), ['cloud.simulated.bootTime: "soon" is not a duration: write e.g. 90s, 10m, 48h or 2d', 'pools.physics.size: size 9 is larger than max 4']);
});

test('pools, leases, audit and reconcile --once [--dry-run] work on the bot\'s own state, without chat', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), SIM);
  const env = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var') };
  const none = await daaas(['pools'], env);
  t.is(none.code, 2);
  t.regex(none.err, /There is no state in .*var yet: the bot has not run with this DAAAS_DATA_DIR\./);

  const preview = await daaas(['reconcile', '--once', '--dry-run', '--json'], env);
  t.is(preview.code, 0, preview.err);
  t.deepEqual((JSON.parse(preview.out) as { actions: { kind: string; pool: string }[] }).actions.map((a) => `${a.kind} ${a.pool}`), ['create physics', 'create physics']);
  const untouched = JSON.parse((await daaas(['pools', '--json'], env)).out) as { booting: number }[];
  t.is(untouched[0]?.booting, 0, 'a dry run changes nothing');

  t.is((await daaas(['reconcile', '--once'], env)).code, 0);
  t.like((JSON.parse((await daaas(['pools', '--json'], env)).out) as object[])[0], { pool: 'physics', size: 2, max: 4, booting: 2 });
  await new Promise((r) => setTimeout(r, 200));
  const tick = await daaas(['reconcile', '--once'], env);
  t.regex(tick.out, /✔ One tick: 2 action\(s\)\./);
  const table = await daaas(['pools'], env);
  t.regex(table.out, /physics\s+2\s+4\s+0\s+0\s+2\s/, 'booting 0, provisioning 0, ready 2');

  t.is((await daaas(['leases'], env)).out, 'No active leases.\n');
  t.deepEqual(JSON.parse((await daaas(['leases', '--json'], env)).out), []);
  t.regex((await daaas(['audit', '--since', '1h'], env)).out, /Nothing audited since/);
  const badSince = await daaas(['audit', '--since', 'yesterday-ish'], env);
  t.is(badSince.code, 2);
  t.regex(badSince.err, /--since "yesterday-ish" is neither a duration/);

  // With the bot running (it holds the data directory's lock), only a dry run is allowed.
  const unlock = lockDataDir(join(dir.path, 'var'));
  t.teardown(unlock);
  const locked = await daaas(['reconcile', '--once'], env);
  t.is(locked.code, 2);
  t.regex(locked.err, /The bot reconciles by itself; stop it to run a tick by hand, or add --dry-run\./);
  t.is((await daaas(['reconcile'], env)).code, 2);
});

test('the read-only commands work on a read-only copy of the state', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), SIM);
  const env = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var') };
  t.is((await daaas(['reconcile', '--once'], env)).code, 0);
  const view = readOnlyView(join(dir.path, 'var'), dir.path);
  t.teardown(view.release);
  const ro = { ...env, DAAAS_DATA_DIR: view.path };
  const table = await daaas(['pools', '--json'], ro);
  t.is(table.code, 0, table.err);
  t.like((JSON.parse(table.out) as object[])[0], { pool: 'physics', booting: 2 });
  t.is((await daaas(['leases'], ro)).out, 'No active leases.\n');
  t.is((await daaas(['audit'], ro)).code, 0);
  const tick = await daaas(['reconcile', '--once'], ro);
  t.is(tick.code, 2);
  t.is(tick.err.trim().split('\n').length, 1, tick.err);
  t.regex(tick.err, /data directory .* is not writable/);
});

test('backup while the bot holds the data directory; restore is refused then, and puts the copy in place once it has stopped', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), SIM);
  const env = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var') };
  t.is((await daaas(['backup', join(dir.path, 'b.db')], env)).code, 2, 'no state yet');
  t.is((await daaas(['reconcile', '--once'], env)).code, 0);

  const unlock = lockDataDir(join(dir.path, 'var'));
  const backup = await daaas(['backup', join(dir.path, 'b.db')], env);
  t.is(backup.code, 0, backup.err);
  t.regex(backup.out, /✔ Backed up .*var\/daaas\.db to .*b\.db: schema \d+, 2 VMs, 0 active leases, \d+ KiB \(\d+ ms\)\./);
  const refused = await daaas(['restore', join(dir.path, 'b.db')], env);
  t.is(refused.code, 1);
  t.regex(refused.err, /✖ Not restored: a DAaaS bot is using the data directory .*var; stop it first/);
  unlock();

  const restored = await daaas(['restore', join(dir.path, 'b.db'), '--json'], { ...env, DAAAS_DATA_DIR: join(dir.path, 'fresh') });
  t.is(restored.code, 0, restored.err);
  t.like(JSON.parse(restored.out), { ok: true, vms: 2, activeLeases: 0, retired: 0, keptAs: null });
  t.like((JSON.parse((await daaas(['pools', '--json'], { ...env, DAAAS_DATA_DIR: join(dir.path, 'fresh') })).out) as object[])[0], { pool: 'physics', booting: 2 });
  writeFileSync(join(dir.path, 'junk.db'), 'junk');
  const junk = await daaas(['restore', join(dir.path, 'junk.db')], env);
  t.is(junk.code, 1);
  t.regex(junk.err, /junk\.db is not an SQLite database/);
  t.is((await daaas(['restore'], env)).code, 2);
});

test('the exit codes --help gives are the ones the commands give: config check 1 for a bad file, other commands 2', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'bad.yaml'), SIM.replace('size: 2', 'size: -2'));
  const env = { DAAAS_CONFIG: join(dir.path, 'bad.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var') };
  const help = await daaas(['--help'], {});
  t.is(help.code, 0);
  const short = await daaas(['-h'], {});
  t.is(short.code, 0);
  t.is(short.out, help.out, '-h is --help');
  t.regex(help.out.replace(/\s+/g, ' '), /1 when something is wrong or missing \(for config check: the configuration has problems, each listed\); 2 on a usage error, or when any other command cannot use the configuration\./);
  const check = await daaas(['config', 'check'], env);
  t.is(check.code, 1);
  t.regex(check.out, /pools\.physics\.size: must be 0 or more/);
  const pools = await daaas(['pools'], env);
  t.is(pools.code, 2);
  t.regex(pools.err, /pools\.physics\.size: must be 0 or more/);
  t.is((await daaas(['pools', '--frobnicate'], {})).code, 2);
});

test('admin commands through npm run daaas: the chat’s words, --json, exit 1 when refused, 2 on a usage error, --help per command', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const { SqliteStore } = await import('../../src/adapters/sqlite/sqlite-store.ts');
  new SqliteStore(join(dir.path, 'daaas.db')).close();
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG.replace('cloud: { driver: openstack }', 'cloud: { driver: simulated, simulated: { images: [physics-base], flavors: { m1.small: { vcpus: 1 } } } }'));
  const env = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: dir.path };
  const leases = await daaas(['admin', 'leases', '--json'], env);
  t.is(leases.code, 0, leases.err);
  t.like(JSON.parse(leases.out), { ok: true, outcome: 'done', command: 'admin leases', reply: { title: 'No live leases' } });
  const refused = await daaas(['admin', 'release', 'physics-zzzz', '--reason', 'disk swap', '--yes'], env);
  t.is(refused.code, 1);
  t.regex(refused.out, /✖ No VM called "physics-zzzz" is claimed at the moment\./);
  const unknown = await daaas(['admin', 'frobnicate'], env);
  t.is(unknown.code, 2);
  t.regex(unknown.err, /"admin frobnicate" is not an operator command[^]*admin drain <pool> \[--reason TEXT\] \[--yes\]/);
  const help = await daaas(['admin', 'resize', '--help'], env);
  t.is(help.code, 0);
  t.regex(help.out, /Usage: npm run daaas -- admin resize <pool> <size>[^]*npm run daaas -- admin resize excitations reset/);
});

test('reconcile --dry-run shows what retiring a pool removed from the configuration will do: the claimed VM kept, the rest deleted, the holder told', async (t) => {
  const { createHarness, TEST_CONFIG } = await import('../helpers/harness.ts');
  const { ManualClock } = await import('../../src/adapters/manual-clock.ts');
  const dir = tempDir();
  t.teardown(dir.remove);
  const h = createHarness({ clock: new ManualClock(Date.now() - 60_000), storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'sim-cloud.json') });
  await h.run(12_000);
  await h.claim('alice', 'physics');
  await h.run(12_000);
  const claimed = h.store.activeLeases()[0]!.vm.name;
  await h.close();
  writeFileSync(join(dir.path, 'c.yaml'), TEST_CONFIG.replace('\n  physics:\n', '\n  physic:\n'));
  const dry = await daaas(['reconcile', '--once', '--dry-run'], { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: dir.path });
  t.is(dry.code, 0, dry.err);
  t.regex(dry.out, new RegExp(`tell holder: pool retired\\s+physics\\s+${claimed}\\s+alice`));
  t.is(dry.out.match(/retire\s+physics\s+physics-\w+\s+-\s+its pool was removed from the configuration/g)?.length, 3, dry.out);
  t.notRegex(dry.out, new RegExp(`(retire|delete-server)\\s+physics\\s+${claimed}`));
  t.regex(dry.out, /physics: removed from configuration: 1 claimed VM kept until its lease ends \(no extensions\); 3 other VMs being deleted/);
  const pools = await daaas(['pools'], { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: dir.path });
  t.regex(pools.out, /physics \(removed from configuration\)/);
});
