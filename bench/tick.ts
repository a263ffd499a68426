/**
 * 2. One reconcile tick (app.reconciler.tick()) at 100 pools, each with 5 warm VMs and its share
 * of the leases, at two scales, on a SQLite file store. Between full walks a tick reads only what
 * changed (the cloud's changes-since, the leases due, the VMs not handed out); a full walk runs
 * every scheduler.resyncEvery, after an error and at start. Measured: the tick with nothing
 * changed, with 1 % of the servers changed since the last tick, a full walk, the cloud requests
 * of each, and the tick with the shipped simulated API latency (20 ms a request) waited for in
 * real time. With DAAAS_BENCH_PROFILE=FILE, one tick at the large scale is CPU-profiled (V8's
 * sampling profiler, as `node --cpu-prof`, around that tick alone) and where its time goes is said.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpuMs, median, ms, round, scaleFixture, SCALE_POOLS, SIM_LATENCY_MS, type BenchApp, type Row, type ScaleFixture, type SectionResult } from './lib.ts';

const TARGET_QUIET_MS = 20;
const TARGET_CHANGED_MS = 50;
const TARGET_LATENCY_MS = 100;
/** The share of servers that change between two ticks in the "changed" measurement. */
const CHANGED_SHARE = 0.01;
/**
 * Time between two measured ticks: the loop's heartbeat at steady state (scheduler.schedule, a
 * minute). Each changes-since window reaches a minute back before the previous read (clock
 * skew), so a tick also sees the changes of the interval before: here 2 % of the servers.
 */
const TICK_GAP_MS = 60_000;
/** Longer than the changes-since overlap, so the seeding is not itself a change any more. */
const SETTLE_MS = 120_000;

type Calls = Record<string, number>;

function diff(after: Calls, before: Calls): Calls {
  const out: Calls = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) !== 0) out[k] = v - (before[k] ?? 0);
  return out;
}

const total = (calls: Calls) => Object.values(calls).reduce((a, v) => a + v, 0);
const describe = (calls: Calls) => Object.entries(calls).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

interface Sample {
  wallMs: number;
  cpuMs: number;
  requests: Calls;
  actions: number;
}

/** One tick, timed, with the cloud requests it made. `before` runs untimed first (the change to the world). */
async function timedTick(f: ScaleFixture, before?: () => void | Promise<void>): Promise<Sample> {
  const { b } = f;
  await f.clock.advance(TICK_GAP_MS);
  await before?.();
  const calls = { ...b.cloud.calls };
  const c0 = cpuMs();
  const w0 = performance.now();
  const report = await b.app.reconciler.tick();
  const wallMs = performance.now() - w0;
  return { wallMs, cpuMs: cpuMs() - c0, requests: diff(b.cloud.calls, calls), actions: report.actions };
}

function summary(samples: readonly Sample[]) {
  const wall = samples.map((s) => s.wallMs);
  const cpu = samples.map((s) => s.cpuMs);
  return {
    wallMs: { median: round(median(wall)), max: round(Math.max(...wall)), all: wall.map((w) => round(w)) },
    cpuMs: { median: round(median(cpu)), max: round(Math.max(...cpu)) },
    requests: samples.map((s) => s.requests),
    requestsMedian: median(samples.map((s) => total(s.requests))),
    actions: samples.map((s) => s.actions),
  };
}

/** Servers of claimed VMs, a seeded `share` of them: what an operator's reboots would touch. */
function pickServers(b: BenchApp, share: number, seed: number): string[] {
  const ids = b.store.listVms({ states: ['claimed'] }).map((vm) => vm.serverId!).filter(Boolean);
  const count = Math.max(1, Math.round(ids.length * share));
  let x = seed;
  const picked = new Set<string>();
  while (picked.size < count) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    picked.add(ids[x % ids.length]!);
  }
  return [...picked];
}

async function measureScale(leasesPerPool: number, ticks: number) {
  const f = scaleFixture(leasesPerPool);
  const { b } = f;
  await f.clock.advance(SETTLE_MS);
  // The first tick walks everything and schedules every lease; the second reads changes only.
  const warmUp = [await timedTick(f), await timedTick(f)];
  const quiet: Sample[] = [];
  for (let i = 0; i < ticks; i++) quiet.push(await timedTick(f));
  const changed: Sample[] = [];
  for (let i = 0; i < ticks; i++) changed.push(await timedTick(f, () => pickServers(b, CHANGED_SHARE, i + 1).forEach((id) => b.cloud.touchServer(id))));
  const walks: Sample[] = [];
  for (let i = 0; i < Math.max(3, Math.ceil(ticks / 2)); i++) walks.push(await timedTick(f, () => b.app.reconciler.resync()));
  return {
    pools: SCALE_POOLS,
    vms: b.store.listVms().length,
    leases: b.store.activeLeases().length,
    seedSeconds: f.seedSeconds,
    firstTick: { wallMs: round(warmUp[0]!.wallMs), requests: warmUp[0]!.requests, actions: warmUp[0]!.actions },
    quiet: summary(quiet),
    changed: { servers: pickServers(b, CHANGED_SHARE, 1).length, ...summary(changed) },
    fullWalk: summary(walks),
  };
}

/** A tick between full walks and a full walk, the simulated cloud now answering each request after 20 ms of real time. */
async function withLatency(leasesPerPool: number) {
  const f = scaleFixture(leasesPerPool);
  await timedTick(f);
  f.cloudClock.realLatency = true;
  try {
    const between = await timedTick(f);
    const walk = await timedTick(f, () => f.b.app.reconciler.resync());
    return { vms: f.b.store.listVms().length, latencyMs: SIM_LATENCY_MS, between, walk };
  } finally {
    f.cloudClock.realLatency = false;
  }
}

/** One tick under V8's sampling profiler; the functions with the most self time. */
async function profileTick(leasesPerPool: number, path: string, walk: boolean) {
  const f = scaleFixture(leasesPerPool);
  await timedTick(f);
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 50 });
    await f.clock.advance(TICK_GAP_MS);
    if (walk) f.b.app.reconciler.resync();
    await session.post('Profiler.start');
    await f.b.app.reconciler.tick();
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(path, JSON.stringify(profile));
    const self = new Map<string, number>();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const counts = new Map<number, number>();
    for (const id of profile.samples ?? []) counts.set(id, (counts.get(id) ?? 0) + 1);
    const all = profile.samples?.length ?? 0;
    for (const [id, n] of counts) {
      const frame = byId.get(id)!.callFrame;
      const file = frame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/');
      const key = `${frame.functionName || '(anonymous)'} ${file ? `(${file}:${frame.lineNumber + 1})` : ''}`.trim();
      self.set(key, (self.get(key) ?? 0) + n);
    }
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([fn, n]) => `${fn} ${Math.round((100 * n) / all)} %`);
    return { path, samples: all, wallMs: round((profile.endTime - profile.startTime) / 1000), top };
  } finally {
    session.disconnect();
  }
}

/** Leases per pool of the large scale: 100 × 100 = 10,000 (2,500 with --quick). */
export const largeLeasesPerPool = (quick: boolean) => (quick ? 25 : 100);

export async function reconcileTick(quick: boolean): Promise<SectionResult> {
  const small = await measureScale(5, quick ? 3 : 7);
  await scaleFixture(5).close();
  // The large state stays for the fan-out scenario (run.ts closes it at the end).
  const large = await measureScale(largeLeasesPerPool(quick), quick ? 3 : 7);
  const latency = await withLatency(largeLeasesPerPool(quick));
  const profilePath = process.env.DAAAS_BENCH_PROFILE;
  const profiles = profilePath
    ? [await profileTick(largeLeasesPerPool(quick), profilePath, false), await profileTick(largeLeasesPerPool(quick), profilePath.replace(/(\.cpuprofile)?$/, '-walk.cpuprofile'), true)]
    : [];
  const label = (s: typeof small) => `${SCALE_POOLS} pools / ${s.vms.toLocaleString('en')} VMs / ${s.leases.toLocaleString('en')} leases`;
  const verdict = (ok: boolean): Row['verdict'] => (ok ? 'pass' : 'miss');
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const s of [small, large]) {
    rows.push({
      section: '2 tick',
      measure: `tick wall, ${label(s)}, nothing changed (between full walks; median of ${s.quiet.wallMs.all.length})`,
      value: `${ms(s.quiet.wallMs.median)} (max ${ms(s.quiet.wallMs.max)}; CPU ${ms(s.quiet.cpuMs.median)})`,
      target: `< ${TARGET_QUIET_MS} ms`,
      verdict: verdict(s.quiet.wallMs.median < TARGET_QUIET_MS),
    });
  }
  rows.push({
    section: '2 tick',
    measure: `tick wall, ${label(large)}, 1 % of VMs changed since the last tick (${large.changed.servers} servers)`,
    value: `${ms(large.changed.wallMs.median)} (max ${ms(large.changed.wallMs.max)}; CPU ${ms(large.changed.cpuMs.median)})`,
    target: `< ${TARGET_CHANGED_MS} ms`,
    verdict: verdict(large.changed.wallMs.median < TARGET_CHANGED_MS),
  });
  const between = (s: typeof small) => s.quiet.requestsMedian;
  rows.push({
    section: '2 tick',
    measure: `cloud requests per tick between full walks, ${small.vms.toLocaleString('en')} → ${large.vms.toLocaleString('en')} VMs (nothing changed; 1 % changed)`,
    value: `${describe(small.quiet.requests[0]!)} → ${describe(large.quiet.requests[0]!)}; ${describe(large.changed.requests[0]!)}`,
    target: '1–2, independent of fleet size',
    verdict: verdict(between(small) >= 1 && between(large) <= 2 && between(small) === between(large)),
  });
  rows.push({
    section: '2 tick',
    measure: `tick wall with ${SIM_LATENCY_MS} ms simulated API latency, ${latency.vms.toLocaleString('en')} VMs (between full walks)`,
    value: `${ms(latency.between.wallMs)} (${total(latency.between.requests)} request${total(latency.between.requests) === 1 ? '' : 's'}, CPU ${ms(latency.between.cpuMs)})`,
    target: `< ${TARGET_LATENCY_MS} ms`,
    verdict: verdict(latency.between.wallMs < TARGET_LATENCY_MS),
  });
  rows.push({
    section: '2 tick',
    measure: `full walk (every scheduler.resyncEvery, after an error, at start), ${label(large)}: wall; with ${SIM_LATENCY_MS} ms latency`,
    value: `${ms(large.fullWalk.wallMs.median)} (CPU ${ms(large.fullWalk.cpuMs.median)}, ${large.fullWalk.requestsMedian} requests); ${ms(latency.walk.wallMs)}`,
    target: 'once per resyncEvery (10 min)',
    verdict: 'info',
  });
  const acted = [...large.quiet.actions, ...large.changed.actions, ...large.fullWalk.actions].some((a) => a > 0);
  if (acted) notes.push(`A steady-state tick at ${large.vms} VMs acted (${[...large.quiet.actions, ...large.changed.actions, ...large.fullWalk.actions].join(', ')} actions).`);
  notes.push(
    `Between full walks a tick asks the cloud for changes-since once (a page per ${'50'} changes on SimCloud, 200 on OpenStack), reads only the leases due, the VMs not handed to a user (${SCALE_POOLS} × 5 warm here) and the claimed ones a change names, and counts VMs per pool by an index. ` +
      `The first tick after start walks everything and schedules every lease (${ms(large.firstTick.wallMs)}, ${describe(large.firstTick.requests)} at ${large.vms.toLocaleString('en')} VMs).`,
  );
  for (const p of profiles) notes.push(`CPU profile of one ${p === profiles[0] ? 'tick between full walks' : 'full-walk tick'} at ${large.vms.toLocaleString('en')} VMs (${p.samples} samples at 50 µs, ${ms(p.wallMs)}; ${p.path}): ${p.top.join('; ')}.`);
  return { rows, notes, data: { targetsMs: { quiet: TARGET_QUIET_MS, changed: TARGET_CHANGED_MS, latency: TARGET_LATENCY_MS }, scales: [small, large], withSimulatedLatency: latency, profiles } };
}
