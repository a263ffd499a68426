import test from 'ava';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { lockDataDir } from '../../src/adapters/data-dir-lock.ts';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { adminCli, AdminUsageError, type AdminCliResult } from '../../src/cli/admin.ts';
import { createHarness, tempDir, TEST_CONFIG, type Harness } from '../helpers/harness.ts';

/** The bot (a harness on the data directory's store) and the operator's command line beside it. */
async function setUp(t: { teardown: (fn: () => void) => void }, running: boolean) {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), TEST_CONFIG);
  const clock = new ManualClock();
  const h: Harness = createHarness({ clock, storePath: join(dir.path, 'daaas.db') });
  t.teardown(() => void h.close());
  if (running) t.teardown(lockDataDir(dir.path));
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm;
  const env = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: dir.path };
  const cli = async (line: string, json = false, operator: string | null = 'cli:tester') => {
    let out = '';
    const code = await adminCli(line.split(' '), { env, json, write: (text) => (out += text), clock, ...(operator ? { operator } : {}) });
    return { code, out, json: json ? (JSON.parse(out) as AdminCliResult) : undefined };
  };
  return { h, vm, cli, dir: dir.path };
}

/** One tick of the bot's own loop (started here), the way the bot runs it: its outbox is looked at too. */
async function botTick(h: Harness): Promise<void> {
  const before = h.app.loop.ticks;
  if (before === 0 && !started.has(h)) {
    started.add(h);
    h.app.loop.start();
  } else h.app.loop.kick();
  while (h.app.loop.ticks <= before) await new Promise((resolve) => setImmediate(resolve));
  await h.app.reconciler.idle();
  await h.app.outbox.idle();
}
const started = new WeakSet<Harness>();

const audits = (h: Harness, action: string) => h.store.auditLog().filter((e) => e.action === action);

test('admin release as the operator while the bot runs: written to the store, audited as cli:<user>, the bot acts on it at its next tick and the holder is told who and why', async (t) => {
  const { h, vm, cli } = await setUp(t, true);
  await botTick(h); // the bot's loop is running before the operator acts
  const { code, out } = await cli(`release ${vm.name} --reason disk replaced --yes`);
  t.is(code, 0, out);
  t.regex(out, new RegExp(`✔ ${vm.name} released`));
  t.regex(out, /The bot is running: this is written to its store, and it acts on it at its next tick/);
  t.like(audits(h, 'admin release').at(-1), { actor: 'cli:tester', target: vm.name, result: 'ok', detail: { reason: 'disk replaced', user: 'alice', vm: vm.name } });
  t.is(h.store.getVm(vm.id)?.state, 'releasing', 'the lease ended in the store at once');
  const serverId = vm.serverId!;
  await botTick(h);
  await botTick(h);
  t.is(h.store.getVm(vm.id)?.state, 'deleted', 'the bot deleted it at its next ticks');
  t.false((await h.cloud.listServers(h.app.reconciler.tag)).some((s) => s.id === serverId));
  const told = h.dms.sent.filter((m) => m.to.user === 'alice');
  t.is(told.length, 1, 'the holder is told once, through the outbox');
  t.regex(told[0]!.message.blocks.map((b) => ('text' in b ? b.text : '')).join(' '), /An admin, cli:tester, ended your lease: disk replaced/);
});

test('without --yes nothing is done: asked to confirm, exit 1, audited as such', async (t) => {
  const { h, vm, cli } = await setUp(t, false);
  const release = await cli(`release ${vm.name}`, true);
  t.is(release.code, 1);
  t.like(release.json, { ok: false, outcome: 'asked to confirm', code: null, command: 'admin release', bot: { running: false } });
  t.regex(release.json!.note!, /Nothing was done\. To do it, run it again with --yes/);
  t.true(release.json!.reply.actions.some((a) => a.command === `admin release ${vm.name} --yes`));
  t.is(h.store.activeLeases({ user: 'alice' }).length, 1, 'the lease is still there');
  const drain = await cli('drain physics --reason image rebuild');
  t.is(drain.code, 1);
  t.regex(drain.out, /Close physics for maintenance\?[^]*To confirm, say: admin drain physics --reason image rebuild --yes/);
  t.regex(drain.out, /Nothing was done\. To do it, run it again with --yes: npm run daaas -- admin drain physics --reason image rebuild --yes/);
  t.is(h.store.poolControl('physics').drained, null);
  t.deepEqual(h.store.auditLog().filter((e) => e.actor === 'cli:tester').map((e) => `${e.action} ${e.result}`), ['admin release asked to confirm', 'admin drain asked to confirm']);
});

test('a wrong VM or pool is refused with the chat’s words, exit 1, audited, nothing changed', async (t) => {
  const { h, vm, cli } = await setUp(t, false);
  const unknownVm = await cli(`release ${vm.name}q9 --yes`, true);
  t.is(unknownVm.code, 1);
  t.like(unknownVm.json, { ok: false, outcome: 'refused', code: 'UNKNOWN_VM' });
  t.regex(unknownVm.json!.reply.title, /No VM called ".*" is claimed at the moment/);
  const unknownPool = await cli('resize phisics 4');
  t.is(unknownPool.code, 1);
  t.regex(unknownPool.out, /There is no pool called "phisics"\. Did you mean physics\?/);
  const outOfRange = await cli('resize physics 60');
  t.regex(outOfRange.out, /physics can keep 0 to 6 VMs warm/);
  const badExtend = await cli(`extend ${vm.name} forever`);
  t.regex(badExtend.out, /"forever" is not a duration/);
  t.deepEqual(audits(h, 'admin resize').map((e) => e.result), ['UNKNOWN_POOL', 'BAD_INPUT']);
  t.is(h.store.poolControl('physics').size, null);
  t.is(h.store.activeLeases().length, 1);
});

test('each pool command as the operator with the bot stopped: kept in the store, said so, and acted on when the bot ticks', async (t) => {
  const { h, cli } = await setUp(t, false);
  const resize = await cli('resize physics 5 --json'.replace(' --json', ''), true);
  t.like(resize.json, { ok: true, outcome: 'done', command: 'admin resize', operator: 'cli:tester', bot: { running: false } });
  t.regex(resize.json!.note!, /The bot is not running: this is written to its store, and it acts on it when it starts/);
  t.is(h.store.poolControl('physics').size, 5);
  await h.run(12_000);
  t.is(h.store.listVms({ pool: 'physics', states: ['ready'] }).length, 5);

  t.is((await cli('drain physics --reason image rebuild --yes')).code, 0);
  t.regex((await h.sayText('bob', 'claim physics')), /physics is closed for maintenance: image rebuild/);
  await h.run(5_000);
  t.is(h.store.listVms({ pool: 'physics', states: ['ready'] }).length, 0);
  t.regex((await cli('undrain physics')).out, /physics is open again/);
  t.regex((await cli('pause all')).out, /Paused: physics, imaging/);
  t.truthy(h.store.poolControl('imaging').paused);
  t.regex((await cli('resume imaging')).out, /Resumed: imaging/);
  t.deepEqual(h.store.auditLog().filter((e) => e.actor === 'cli:tester').map((e) => `${e.action} ${e.target} ${e.result}`), [
    'admin resize physics 5 ok',
    'admin drain physics ok',
    'admin undrain physics ok',
    'admin pause all ok',
    'admin resume imaging ok',
  ]);
});

test('admin extend and admin leases: beyond the pool’s limits, the holder told; --json gives the leases as named cells', async (t) => {
  const { h, vm, cli } = await setUp(t, true);
  await botTick(h);
  const before = h.store.getLease(h.store.activeLeases()[0]!.id)!.expiresAt;
  const extend = await cli(`extend ${vm.name} 3d --reason beam time`, true);
  t.like(extend.json, { ok: true, outcome: 'done', bot: { running: true } });
  t.is(h.store.activeLeases()[0]!.expiresAt, before + 3 * 86_400_000);
  const leases = await cli('leases', true);
  t.like(leases.json, { ok: true, outcome: 'done', command: 'admin leases', bot: { running: true }, note: null });
  const [row] = leases.json!.reply.tables[0]!;
  t.like(row, { holder: 'alice', VM: vm.name, pool: 'physics', 'extensions used': '0' });
  t.is(row!.expires, new Date(before + 3 * 86_400_000).toISOString());
  t.is(typeof row!['time left'], 'number');
  const none = await cli('leases imaging');
  t.regex(none.out, /No live leases in imaging/);
  await botTick(h);
  t.true(h.dms.titles('alice').some((title) => title === `${vm.name} was extended by 3d`));
});

test('the operator is audited by login name by default; a command that is not the operator’s is a usage error', async (t) => {
  const { h, cli } = await setUp(t, false);
  await cli('pause physics', false, null);
  t.is(audits(h, 'admin pause').at(-1)?.actor, `cli:${userInfo().username}`);
  await t.throwsAsync(cli('pools'), { instanceOf: AdminUsageError, message: /"admin pools" is not an operator command[^]*admin release <vm>/ });
  await t.throwsAsync(cli(''), { instanceOf: AdminUsageError, message: /admin needs a command/ });
});

test('no state in the data directory yet: a usage error naming it', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), TEST_CONFIG);
  await t.throwsAsync(adminCli(['leases'], { env: { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'none') }, json: false, write: () => {} }), { instanceOf: AdminUsageError, message: /There is no state in .*none yet/ });
});

test('admin resume as the operator closes a failing pool’s open circuit, as in chat', async (t) => {
  const { h, cli } = await setUp(t, false);
  const health = h.store.poolHealth('imaging');
  h.store.savePoolHealth({ ...health, consecutiveFailures: 3, lastError: 'boot: image broken', lastErrorAt: h.clock.now() });
  t.is(h.app.service.circuit('imaging').state, 'open');
  const resume = await cli('resume imaging', true);
  t.like(resume.json, { ok: true, outcome: 'done', reply: { title: 'Resumed: imaging' } });
  t.is(h.app.service.circuit('imaging').state, 'closed');
  t.is(h.store.poolHealth('imaging').consecutiveFailures, 0);
});

test('admin alerts as the operator: the open alerts from the bot’s store, and where they go', async (t) => {
  const { h, cli } = await setUp(t, true);
  const { SqliteAlerts } = await import('../../src/adapters/sqlite/alerts.ts');
  const none = await cli('alerts', true);
  t.like(none.json, { ok: true, outcome: 'done', command: 'admin alerts', note: null, reply: { title: 'No open alerts' } });
  const since = h.clock.now() - 600_000;
  new SqliteAlerts(h.store).addAlert({ kind: 'pool-empty', pool: 'physics', subject: '', status: 'open', since, raisedAt: since, lastSentAt: since, sent: 1, resolvedAt: null, detail: 'physics has had no ready VM for 10m' });
  const open = await cli('alerts');
  t.is(open.code, 0);
  t.regex(open.out, /! 1 open alert[^]*physics has had no ready VM for 10m/);
  t.regex(open.out, /Alerts go to: .*root/);
  const here = await cli('alerts here', true);
  t.like(here.json, { ok: false, outcome: 'refused', code: 'BAD_INPUT' });
  t.regex(here.json!.reply.title, /This chat \(cli\) cannot be kept as a place for alerts/);
});
