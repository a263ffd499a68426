import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { PromMetrics } from '../../src/adapters/metrics/prom-metrics.ts';
import { SimActivityProbe } from '../../src/adapters/sim-activity.ts';
import { SqliteActivity } from '../../src/adapters/sqlite/activity.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import type { LeaseView, PoolSpec } from '../../src/core/model.ts';
import type { ActivityProbe } from '../../src/ports/activity.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { ActivityMonitor, DEFAULT_ACTIVITY } from '../../src/scheduler/activity-monitor.ts';
import { join } from 'node:path';
import { createHarness, seeded, tempDir, TEST_CONFIG } from '../helpers/harness.ts';

const H = 3_600_000;
const M = 60_000;

const pool = (over: Partial<PoolSpec> = {}): PoolSpec => ({
  name: 'excitations', description: '', image: 'img', flavor: 'flv', gpu: false, networks: [], size: 1, max: 5,
  leaseMs: 48 * H, remindBeforeMs: [24 * H, H, 10 * M], extensionStepMs: 24 * H, maxExtensions: 2, maxLeasesPerUser: 2,
  groups: [], connect: '', owner: { name: 'o', contact: 'o@x' }, ...over,
});

function world(options: { pool?: Partial<PoolSpec>; waiting?: number; probe?: ActivityProbe } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 29, 9));
  const store = new SqliteStore(':memory:');
  const activity = new SqliteActivity(store.db);
  const sim = new SimActivityProbe({ clock });
  const metrics = new PromMetrics(() => []);
  const state = { waiting: options.waiting ?? 0 };
  const monitor = new ActivityMonitor({
    store, activity, probe: options.probe ?? sim, clock, log: silentLogger, pools: [pool(options.pool)],
    settings: { ...DEFAULT_ACTIVITY, timeoutMs: 2 * M }, waiting: () => state.waiting, random: seeded(7), metrics,
  });
  const vm = store.createVm({ pool: 'excitations', image: 'img', flavor: 'flv', createdAt: clock.now() });
  store.updateVm(vm.id, { state: 'ready', readyAt: clock.now() }, clock.now());
  const claim = store.claim({ pool: 'excitations', user: 'alice', platform: 'test', conversation: 'dm-alice', now: clock.now(), leaseMs: 48 * H, maxLeasesPerUser: 2 });
  if (!claim.ok) throw new Error('no claim');
  const lease = claim.lease;
  /** Probes as the monitor's timer would, for `ms` of time. */
  const run = async (ms: number) => {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      // Time goes on while a probe hangs, until its timeout stops it.
      let done = false;
      const due = monitor.runDue().finally(() => (done = true));
      await new Promise((r) => setImmediate(r));
      while (!done) {
        await clock.advance(M);
        await new Promise((r) => setImmediate(r));
      }
      await due;
      const next = monitor.nextDueAt();
      await clock.advance(Math.max(1, Math.min(end, next ?? end) - clock.now()));
    }
  };
  const messages = (kind?: string) => store.outboxMessages({ leaseId: lease.id }).filter((m) => !kind || m.kind === kind);
  return { clock, store, activity, sim, monitor, lease, run, messages, state, metrics };
}

test('probes come every 15 min or so (jittered), and what they saw is stored', async (t) => {
  const w = world();
  await w.run(3 * H);
  const probes = w.sim.probes.length;
  t.true(probes >= 10 && probes <= 15, `${probes} probes in 3 h`);
  t.is(w.activity.leaseActivity(w.lease.id)?.lastError, null);
  t.is(w.activity.leaseActivity(w.lease.id)?.idleSince !== null, true);
});

test('an idle VM: one prompt after 12 h with Release and Keep it, never a second for the same idle run', async (t) => {
  const w = world();
  await w.run(11 * H);
  t.deepEqual(w.messages('idle'), []);
  await w.run(2 * H);
  const idle = w.messages('idle');
  t.is(idle.length, 1);
  t.regex(idle[0]!.body.title, new RegExp(`^${w.lease.vm.name} has been idle for 12h`));
  t.true(idle[0]!.body.title.endsWith('Release it so a colleague can use it?'));
  const buttons = idle[0]!.body.blocks.flatMap((b) => (b.type === 'actions' ? b.actions.map((a) => `${a.label}: ${a.command}`) : []));
  t.deepEqual(buttons, [`Release: release ${w.lease.vm.name} --yes`, `Keep it: keep ${w.lease.vm.name}`]);
  await w.run(20 * H);
  t.is(w.messages('idle').length, 1, 'asked once');
  t.is(w.store.getLease(w.lease.id)?.endedAt, null, 'never released: the pool does not release idle VMs');
  t.regex(await w.metrics.registry.metrics(), /daaas_idle_prompts_total\{pool="excitations",outcome="sent"\} 1/);
  t.regex(await w.metrics.registry.metrics(), /daaas_idle_vm_hours_total\{pool="excitations"\} (3[0-3])\./);
});

test('Keep it silences the prompt for another idle period', async (t) => {
  const w = world();
  await w.run(13 * H);
  t.is(w.messages('idle').length, 1);
  const record = w.activity.leaseActivity(w.lease.id)!;
  w.activity.saveLeaseActivity({ ...record, keptAt: w.clock.now() });
  await w.run(11 * H);
  t.is(w.messages('idle').length, 1, 'silent for another 12 h');
  await w.run(2 * H);
  t.is(w.messages('idle').length, 2, 'asked again after it');
});

test('a session or a busy job is not idle; idleness restarts after it', async (t) => {
  const w = world();
  w.sim.set(w.lease.vm.name, { state: 'session' });
  await w.run(20 * H);
  w.sim.set(w.lease.vm.name, { state: 'busy', job: { command: 'python', cpuPercent: 390 } });
  await w.run(5 * H);
  w.sim.set(w.lease.vm.name, { state: 'idle' });
  await w.run(11 * H);
  t.deepEqual(w.messages('idle'), []);
});

test('a probe that fails or hangs is unknown, never idle: no prompt however long', async (t) => {
  for (const state of ['fails', 'hangs'] as const) {
    const w = world({ waiting: 3, pool: { idle: { afterMs: H, releaseAfterMs: H } } });
    w.sim.set(w.lease.vm.name, { state });
    await w.run(6 * H);
    const record = w.activity.leaseActivity(w.lease.id)!;
    t.truthy(record.lastError, state);
    t.is(record.idleSince, null);
    t.deepEqual(w.messages('idle'), [], state);
    t.is(w.store.getLease(w.lease.id)?.endedAt, null);
    if (state === 'hangs') t.regex(record.lastError!, /no answer within 2m/);
    t.regex(await w.metrics.registry.metrics(), /daaas_activity_probe_failures_total\{pool="excitations"\} [1-9]/);
  }
});

test('idle release: only with idle.releaseAfter, only after an unanswered prompt, only while someone waits', async (t) => {
  const w = world({ pool: { idle: { afterMs: 12 * H, releaseAfterMs: 2 * H } } });
  await w.run(16 * H);
  t.is(w.messages('idle').length, 1);
  t.is(w.store.getLease(w.lease.id)?.endedAt, null, 'nobody waits: kept');
  w.state.waiting = 1;
  await w.run(30 * M);
  const lease = w.store.getLease(w.lease.id) as LeaseView;
  t.not(lease.endedAt, null);
  t.is(lease.endReason, 'idle');
  const notice = w.messages('teardown')[0]!;
  t.regex(notice.body.title, /was released: it had been idle for 1[67]h/);
  t.regex(JSON.stringify(notice.body), /a colleague is waiting for pool excitations.*home directory is kept/);
  const audit = w.store.auditLog().find((a) => a.action === 'idle-release');
  t.like(audit, { actor: 'scheduler', target: w.lease.vm.name, result: 'ok' });
  t.regex(await w.metrics.registry.metrics(), /daaas_idle_prompts_total\{pool="excitations",outcome="released"\} 1/);
});

test('the last reminder names the running job and the unsaved work; others are left as they are', async (t) => {
  const w = world();
  w.sim.set(w.lease.vm.name, { state: 'busy', job: { command: 'python', cpuPercent: 390, startedAt: w.clock.now() }, files: [{ path: '/scratch/run42/output.nxs', bytes: 2_100_000_000 }, { path: '/tmp/x', bytes: 5 }, { path: '/home/alice/kept', bytes: 9 }] });
  await w.clock.advance(48 * H - 10 * M - 5 * M);
  await w.monitor.beforeLeases([w.lease], w.clock.now());
  t.is(w.sim.probes.length, 0, 'not yet: the last stage is not due');
  await w.clock.advance(5 * M);
  await w.monitor.beforeLeases([w.lease], w.clock.now());
  t.is(w.sim.probes.length, 1, 'probed first');
  await w.monitor.beforeLeases([w.lease], w.clock.now());
  t.is(w.sim.probes.length, 1, 'once');
  const body = { tone: 'warning' as const, title: 't', blocks: [{ type: 'text' as const, text: 'first' }] };
  const last = w.monitor.reminder(w.lease, 10 * M, body);
  t.deepEqual(last.blocks[1], { type: 'text', text: 'A job is running on it: python (1d 23h, 390% CPU).\n2.1 GB in 2 files outside your home directory will be lost, such as /scratch/run42/output.nxs (2.1 GB).\n  /scratch/run42/output.nxs (2.1 GB)\n  /tmp/x (5 B)' });
  t.is(w.monitor.reminder(w.lease, H, body), body, 'an earlier stage is unchanged');
});

// ---- through the bot: the reconciler asks the monitor at the last reminder and at expiry ----

const ONE_VM = TEST_CONFIG.replace(/size: 3\n    max: 6/, 'size: 1\n    max: 1');

async function botWithBusyVm(t: { teardown: (fn: () => void) => void }, config = ONE_VM) {
  const dir = tempDir();
  t.teardown(dir.remove);
  const paths = { storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'cloud.json') };
  const clock = new ManualClock();
  const h = createHarness({ ...paths, clock, config });
  await h.run(15_000);
  await h.claim('alice', 'physics');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const busy = { state: 'busy' as const, job: { command: 'python', cpuPercent: 390, startedAt: clock.now() }, files: [{ path: '/scratch/run42/output.nxs', bytes: 2_100_000_000 }] };
  h.activity.set(lease.vm.name, busy);
  const restart = async () => {
    await h.close();
    const again = createHarness({ ...paths, clock, config });
    again.activity.set(lease.vm.name, busy);
    return again;
  };
  return { h, clock, lease, busy, restart };
}

const texts = (reply: { title: string; blocks: { type: string; text?: string }[] }) => [reply.title, ...reply.blocks.flatMap((b) => (b.type === 'text' ? [b.text!] : []))].join('\n');

test('through the bot: the last reminder probes first and names the job and the unsaved work; at expiry one grace, kept across a restart, and the second expiry tears down naming the job', async (t) => {
  const { h, clock, lease, restart } = await botWithBusyVm(t);
  await clock.advance(lease.expiresAt - 10 * M - clock.now());
  const probesBefore = h.activity.probes.length;
  await h.tick();
  t.true(h.activity.probes.length > probesBefore, 'probed before the reminder');
  const reminder = h.dms.sent.at(-1)!.message;
  t.regex(reminder.title, /will be torn down in 10m/);
  t.regex(texts(reminder), /A job is running on it: python \(1d 23h, 390% CPU\)\.\n2\.1 GB in 1 file outside your home directory will be lost, such as \/scratch\/run42\/output\.nxs \(2\.1 GB\)\./);

  const changes: string[] = [];
  h.app.onLeaseChange((account) => changes.push(account));
  await clock.advance(10 * M);
  await h.tick();
  t.deepEqual(changes, [lease.user], 'the grace moved the expiry: one lease change');
  const graced = h.store.getLease(lease.id)!;
  t.is(graced.endedAt, null, 'not torn down');
  t.is(graced.expiresAt, lease.expiresAt + 2 * H);
  t.is(graced.extensionsUsed, 0, 'the grace uses no extension');
  const told = h.dms.sent.at(-1)!.message;
  t.regex(told.title, new RegExp(`^${lease.vm.name} was due for teardown, but a job is running \\(python \\(2d, 390% CPU\\)\\)`));
  t.deepEqual(h.store.auditLog().filter((a) => a.action === 'grace').map((a) => a.result), ['ok']);

  t.regex(await h.metrics.registry.metrics(), /daaas_graces_total\{pool="physics"\} 1/);
  const h2 = await restart();
  t.teardown(() => h2.close());
  await clock.advance(2 * H);
  await h2.tick();
  const ended = h2.store.getLease(lease.id)!;
  t.is(ended.endReason, 'expired', 'no second grace after a restart');
  const last = h2.dms.sent.at(-1)!.message;
  t.regex(texts(last), /ran out\. A job was still running and was stopped: python \(2d 2h, 390% CPU\)\./);
  t.deepEqual(h2.store.auditLog().filter((a) => a.action === 'grace').map((a) => a.result), ['ok', 'given-before']);
});

test('through the bot: no grace while someone waits for the pool; the final notice names the job stopped', async (t) => {
  const { h, clock, lease } = await botWithBusyVm(t);
  t.teardown(() => h.close());
  h.store.joinQueue({ pool: 'physics', user: 'bob', platform: 'test', conversation: 'dm-bob', now: clock.now() });
  await clock.advance(lease.expiresAt - clock.now());
  await h.tick();
  t.is(h.store.getLease(lease.id)!.endReason, 'expired');
  t.regex(texts(h.dms.sent.find((s) => s.to.user === 'alice' && /torn down$/.test(s.message.title))!.message), /A job was still running and was stopped: python/);
  t.like(h.store.auditLog().find((a) => a.action === 'grace'), { result: 'waiting' });
});

test('through the bot: a probe that fails at expiry is unknown: no grace, and no job named', async (t) => {
  const { h, clock, lease } = await botWithBusyVm(t);
  t.teardown(() => h.close());
  h.activity.set(lease.vm.name, { state: 'fails' });
  await clock.advance(lease.expiresAt - 10 * M - clock.now());
  await h.tick();
  t.regex(texts(h.dms.sent.at(-1)!.message), /could not look at what is running on it/);
  await clock.advance(10 * M);
  await h.tick();
  t.is(h.store.getLease(lease.id)!.endReason, 'expired');
  t.notRegex(texts(h.dms.sent.at(-1)!.message), /job/);
});

test('through the bot: no grace when the pool says graceWhenBusy: 0', async (t) => {
  const config = ONE_VM.replace('    groups: [physics]\n', '    groups: [physics]\n    graceWhenBusy: 0\n');
  const { h, clock, lease } = await botWithBusyVm(t, config);
  t.teardown(() => h.close());
  await clock.advance(lease.expiresAt - clock.now());
  await h.tick();
  t.is(h.store.getLease(lease.id)!.endReason, 'expired');
  t.like(h.store.auditLog().find((a) => a.action === 'grace'), { result: 'pool-allows-none' });
  t.regex(texts(h.dms.sent.at(-1)!.message), /A job was still running and was stopped: python/);
});

test('stopping ends a probe in flight at once and records nothing of it', async (t) => {
  const w = world();
  await w.run(H);
  const before = w.activity.leaseActivity(w.lease.id)!;
  w.sim.set(w.lease.vm.name, { state: 'hangs' });
  w.monitor.start();
  const probing = w.monitor.probeAndRecord(w.store.getLease(w.lease.id)!);
  await w.monitor.stop();
  await probing;
  t.deepEqual(w.activity.leaseActivity(w.lease.id), before, 'the idle run goes on after a restart');
});
