/**
 * Activity probes: the wall time of one real `activity.yml` run on this machine (local
 * connection, a sandbox with a few thousand files in its scratch paths, the default one-second
 * CPU sample), and how many probes the monitor makes per hour for a pool of 50 claimed VMs at
 * the default `activity.every` (15 m, jittered), counted on the simulated probe over simulated
 * hours. Not run without ansible-playbook (said in the notes).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnsibleActivityProbe } from '../src/adapters/ansible/activity-probe.ts';
import { sandboxVars } from '../src/adapters/ansible/ansible-provisioner.ts';
import { AnsibleRunner } from '../src/adapters/ansible/ansible-runner.ts';
import { ManualClock } from '../src/adapters/manual-clock.ts';
import { SimActivityProbe } from '../src/adapters/sim-activity.ts';
import { SqliteActivity } from '../src/adapters/sqlite/activity.ts';
import { SqliteStore } from '../src/adapters/sqlite/sqlite-store.ts';
import { SystemClock } from '../src/adapters/system-clock.ts';
import type { LeaseView, PoolSpec } from '../src/core/model.ts';
import { silentLogger } from '../src/ports/logger.ts';
import { ActivityMonitor, DEFAULT_ACTIVITY } from '../src/scheduler/activity-monitor.ts';
import { median, ms, round, tempDir, type SectionResult } from './lib.ts';

const ANSIBLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../ansible');
const H = 3_600_000;

const POOL: PoolSpec = {
  name: 'excitations', description: '', image: 'img', flavor: 'flv', gpu: false, networks: [], size: 50, max: 50, leaseMs: 48 * H,
  remindBeforeMs: [24 * H, H, 600_000], extensionStepMs: 24 * H, maxExtensions: 2, maxLeasesPerUser: 1, groups: [], connect: '', owner: { name: 'o', contact: 'o' },
};

/** Wall times of `runs` real activity.yml runs, or null without ansible-playbook. */
async function realRuns(runs: number): Promise<{ times: number[]; files: number } | { error: string }> {
  const dir = tempDir();
  try {
    const root = join(dir.path, 'vm');
    const files = 2_000;
    for (let i = 0; i < files; i++) {
      const sub = join(root, 'scratch', `run${i % 40}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `f${i}.dat`), 'x'.repeat(i % 500));
    }
    mkdirSync(join(root, 'tmp'), { recursive: true });
    const runner = new AnsibleRunner({ ansibleDir: ANSIBLE_DIR, logDir: join(dir.path, 'logs'), clock: new SystemClock(), timeoutMs: 120_000, maxConcurrent: 1 });
    await runner.check();
    const probe = new AnsibleActivityProbe({ runner, target: 'local', extraVars: sandboxVars(root) });
    const user = process.env.USER ?? 'root';
    const lease = { id: 'l', pool: POOL.name, user, claimedAt: 0, vm: { name: 'excitations-bench', address: '127.0.0.1' } } as LeaseView;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await probe.probe({ lease, pool: POOL, paths: ['/tmp', '/scratch'], signal: new AbortController().signal });
      times.push(performance.now() - started);
    }
    return { times, files };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    dir.remove();
  }
}

/** Probes per hour the monitor makes for 50 claimed VMs, over `hours` of simulated time. */
async function probesPerHour(hours: number): Promise<number> {
  const clock = new ManualClock();
  const store = new SqliteStore(':memory:');
  const sim = new SimActivityProbe({ clock });
  for (let i = 0; i < 50; i++) {
    const vm = store.createVm({ pool: POOL.name, image: 'img', flavor: 'flv', createdAt: clock.now() });
    store.updateVm(vm.id, { state: 'ready', readyAt: clock.now() }, clock.now());
    store.claim({ pool: POOL.name, user: `user${i}`, platform: 'bench', conversation: 'c', now: clock.now(), leaseMs: 1_000 * H, maxLeasesPerUser: 1 });
  }
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const monitor = new ActivityMonitor({ store, activity: new SqliteActivity(store.db), probe: sim, clock, log: silentLogger, pools: [POOL], settings: DEFAULT_ACTIVITY, waiting: () => 0, random });
  // The first hour spreads the first probes; count from the second.
  const end = clock.now() + (hours + 1) * H;
  let counted = 0;
  while (clock.now() < end) {
    const before = sim.probes.length;
    await monitor.runDue();
    if (clock.now() >= end - hours * H) counted += sim.probes.length - before;
    const next = monitor.nextDueAt() ?? end;
    await clock.advance(Math.max(1, Math.min(end, next) - clock.now()));
  }
  store.close();
  return counted / hours;
}

export async function activityProbes(quick: boolean): Promise<SectionResult> {
  const real = await realRuns(quick ? 3 : 7);
  const perHour = await probesPerHour(quick ? 4 : 24);
  const rows: SectionResult['rows'] = [];
  const notes: string[] = [];
  if ('times' in real) {
    const wall = median(real.times);
    rows.push({ section: 'activity', measure: `one activity.yml run, local, ${real.files} files to walk (median of ${real.times.length})`, value: ms(wall), target: '-', verdict: 'info' });
    rows.push({ section: 'activity', measure: 'probe time per hour, pool of 50 (runner slots busy)', value: `${round((perHour * wall) / 1000 / 60, 1)} min`, target: '-', verdict: 'info' });
  } else notes.push(`activity.yml not run: ${real.error}`);
  rows.push({ section: 'activity', measure: 'probes per hour, pool of 50 claimed VMs, every 15m', value: String(round(perHour, 1)), target: '-', verdict: 'info' });
  return { rows, data: { ...('times' in real ? { wallMs: real.times } : { error: real.error }), probesPerHour: perHour }, notes };
}
