/**
 * Run by memory.ts as a fresh process (`node --expose-gc --import tsx bench/memory-child.ts
 * --leases-per-pool N`): the embedded default with 100 pools, 5 warm VMs each and N leases each,
 * on a SQLite file, then reconcile ticks, claims, status and pools as a running bot does; prints
 * its memory figures as one JSON line.
 *
 * The state is seeded pool by pool with a garbage collection after each: SqliteStore prepares a
 * statement on every call and frees it only when its wrapper is collected, so seeding 10,000
 * leases in one go would leave ~90 MB of native memory that a bot which grew to this size over
 * days never holds at once. Nothing is collected by hand after the seeding.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GCProfiler } from 'node:v8';
import { ManualClock } from '../src/adapters/manual-clock.ts';
import { benchConfig, buildApp, PLATFORM, poolNames, seedLeases, seedReady, tempDir } from './lib.ts';

const MB = 2 ** 20;
const { values } = parseArgs({ options: { 'leases-per-pool': { type: 'string', default: '100' } } });
const leasesPerPool = Number(values['leases-per-pool']);
const dir = tempDir();
try {
  const clock = new ManualClock();
  const config = benchConfig({ pools: poolNames(100).map((name) => ({ name, size: 5, max: 5 + leasesPerPool + 100 })) });
  const b = buildApp({ config, storePath: join(dir.path, 'daaas.db'), clock, bootMs: 0, logFile: join(dir.path, 'daaas.log') });
  const baseline = process.memoryUsage();
  const gc = (globalThis as { gc?: () => void }).gc;
  for (const pool of config.pools) {
    seedReady(b, pool, 5 + leasesPerPool);
    seedLeases(b, pool, leasesPerPool, `${pool.name}u`);
    gc?.();
  }
  const seeded = process.memoryUsage();
  const seededPeak = process.resourceUsage().maxRSS;
  // A running bot ticks every minute and every poll while VMs move: enough ticks for the heap to
  // reach the size the garbage collector lets it grow to.
  // What a tick allocates (and leaves as garbage): the heap's growth over the tick plus what the
  // collections during it freed. The first tick is the full walk at start; the rest are regular.
  // A minute apart, as the cron heartbeat ticks, starting a few minutes after the fleet was
  // seeded: a bot that grew to this size over days, not one whose every server changed within
  // the observer's overlap window (which would make every tick read the whole fleet as changed).
  await clock.advance(180_000);
  const allocatedMB: number[] = [];
  for (let i = 0; i < 8; i++) {
    if (i > 0) await clock.advance(60_000);
    const profiler = new GCProfiler();
    profiler.start();
    const before = process.memoryUsage().heapUsed;
    await b.app.reconciler.tick();
    const after = process.memoryUsage().heapUsed;
    const freed = (profiler.stop()?.statistics ?? []).reduce((sum, s) => sum + Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize), 0);
    allocatedMB.push((after - before + freed) / MB);
  }
  // Claims, status and the pool list from chat, then a tick that tops the pools up again.
  for (let i = 0; i < 100; i++) {
    const pool = config.pools[i % config.pools.length]!.name;
    await b.app.dispatch({ platform: PLATFORM, account: `mem${i}`, conversation: `dm-mem${i}`, text: `claim ${pool}` });
    await b.app.dispatch({ platform: PLATFORM, account: `mem${i}`, conversation: `dm-mem${i}`, text: 'status' });
  }
  await b.app.dispatch({ platform: PLATFORM, account: 'mem0', conversation: 'dm-mem0', text: 'pools' });
  for (let i = 0; i < 4; i++) {
    await b.app.reconciler.tick();
    await clock.advance(1_000);
  }
  const end = process.memoryUsage();
  const peak = process.resourceUsage().maxRSS;
  gc?.();
  const live = process.memoryUsage();
  const regular = allocatedMB.slice(1).sort((x, y) => x - y);
  const result = {
    gcDuringSeeding: Boolean(gc),
    firstTickAllocatedMB: Math.round(allocatedMB[0]!),
    tickAllocatedMB: Math.round(regular[Math.floor(regular.length / 2)]! * 10) / 10,
    vms: b.store.listVms().length,
    leases: b.store.activeLeases().length,
    servers: b.cloud.serverCount,
    baselineRssMB: Math.round(baseline.rss / MB),
    seededRssMB: Math.round(seeded.rss / MB),
    peakWhileSeedingMB: Math.round((seededPeak * 1024) / MB),
    rssMB: Math.round(end.rss / MB),
    peakRssMB: Math.round((peak * 1024) / MB),
    liveHeapAfterGcMB: Math.round(live.heapUsed / MB),
    heapUsedMB: Math.round(end.heapUsed / MB),
    heapTotalMB: Math.round(end.heapTotal / MB),
    externalMB: Math.round(end.external / MB),
  };
  await b.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  dir.remove();
}
