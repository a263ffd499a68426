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
import { seeded } from '../helpers/harness.ts';

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
