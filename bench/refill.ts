/**
 * 3. Pool refill: a burst of 20 claims empties a 20-VM pool; how long until 20 VMs are ready
 * again, with boots of 5 s (±20 %, SimCloud's jitter) and 3 s of provisioning, on a manual clock.
 * The tick loop is emulated as TickLoop runs it: a tick right after the claims, every `poll`
 * (1 s) while VMs are on their way, and at once when a provisioning run ends (its kick).
 */
import { join } from 'node:path';
import { ManualClock } from '../src/adapters/manual-clock.ts';
import { benchConfig, buildApp, PLATFORM, round, settle, tempDir, type BenchApp, type Row, type SectionResult } from './lib.ts';

const SIZE = 20;
const BOOT_MS = 5_000;
const PROVISION_MS = 3_000;
const POLL_MS = 1_000;
const STEP_MS = 100;
/** "Close to one boot + provisioning time": within half of it again (covers the ±20 % boot jitter and the 1 s poll). */
const CLOSE_FACTOR = 1.5;

async function runLoop(b: BenchApp, clock: ManualClock, done: () => boolean, limitMs: number): Promise<{ ms: number; ticks: number }> {
  const start = clock.now();
  let lastTick = Number.NEGATIVE_INFINITY;
  let seen = b.provisioner.finished;
  let ticks = 0;
  for (;;) {
    if (b.provisioner.finished !== seen || clock.now() - lastTick >= POLL_MS) {
      seen = b.provisioner.finished;
      await b.app.reconciler.tick();
      await settle();
      ticks++;
      lastTick = clock.now();
    }
    if (done()) return { ms: clock.now() - start, ticks };
    if (clock.now() - start > limitMs) throw new Error(`the pool did not fill within ${limitMs / 1000} s of simulated time`);
    await clock.advance(STEP_MS);
  }
}

async function refill(maxConcurrentBoots: number) {
  const dir = tempDir();
  const clock = new ManualClock();
  const config = benchConfig({
    pools: [{ name: 'workshop', size: SIZE, max: 2 * SIZE }],
    maxConcurrentBoots,
    poll: `${POLL_MS}ms`,
    bootTime: `${BOOT_MS}ms`,
    provisionTime: `${PROVISION_MS}ms`,
    personaliseTime: '2s',
    latency: 0,
  });
  const b = buildApp({ config, storePath: join(dir.path, 'daaas.db'), clock, logFile: join(dir.path, 'daaas.log') });
  const ready = () => b.store.listVms({ pool: 'workshop', states: ['ready'] }).length;
  try {
    const limit = 2 * SIZE * (BOOT_MS * 1.2 + PROVISION_MS + 2 * POLL_MS);
    const cold = await runLoop(b, clock, () => ready() === SIZE, limit);
    const answers = await Promise.all(
      Array.from({ length: SIZE }, (_, i) => b.app.dispatch({ platform: PLATFORM, account: `student${i}`, conversation: `dm-student${i}`, text: 'claim workshop' })),
    );
    const claimed = answers.filter((a) => a.tone === 'success').length;
    const emptied = ready() === 0;
    const after = await runLoop(b, clock, () => ready() === SIZE, limit);
    await b.app.reconciler.idle();
    return { maxConcurrentBoots, coldFillSeconds: cold.ms / 1000, claimed, emptied, refillSeconds: after.ms / 1000, ticks: after.ticks, vmsAfter: b.store.listVms().length };
  } finally {
    await b.close();
    dir.remove();
  }
}

export async function poolRefill(_quick: boolean): Promise<SectionResult> {
  const parallel = await refill(SIZE);
  const shipped = await refill(10);
  const serial = await refill(1);
  const one = (BOOT_MS + PROVISION_MS) / 1000;
  const speedup = serial.refillSeconds / parallel.refillSeconds;
  const rows: Row[] = [];
  const notes: string[] = [];
  const ok = (r: typeof parallel) => r.claimed === SIZE && r.emptied;
  rows.push({
    section: '3 refill',
    measure: `refill of a ${SIZE}-VM pool after a burst, maxConcurrentBoots ${SIZE} (boot ${BOOT_MS / 1000} s + provision ${PROVISION_MS / 1000} s)`,
    value: `${parallel.refillSeconds.toFixed(1)} s`,
    target: `≈ ${one} s (≤ ${(one * CLOSE_FACTOR).toFixed(0)} s)`,
    verdict: ok(parallel) && parallel.refillSeconds <= one * CLOSE_FACTOR ? 'pass' : 'miss',
  });
  rows.push({
    section: '3 refill',
    measure: `same, one VM at a time (maxConcurrentBoots 1)`,
    value: `${serial.refillSeconds.toFixed(1)} s → ${speedup.toFixed(1)}× slower`,
    target: '≥ 10× the parallel time',
    verdict: ok(serial) && speedup >= 10 ? 'pass' : 'miss',
  });
  rows.push({
    section: '3 refill',
    measure: `same, shipped maxConcurrentBoots 10`,
    value: `${shipped.refillSeconds.toFixed(1)} s`,
    target: '—',
    verdict: 'info',
  });
  if (shipped.refillSeconds > one * CLOSE_FACTOR) {
    notes.push(`With the shipped scheduler.maxConcurrentBoots of 10, a ${SIZE}-VM pool refills in two waves (${shipped.refillSeconds.toFixed(1)} s): raise it to at least the largest burst expected for one boot + provisioning time.`);
  }
  for (const r of [parallel, shipped, serial]) if (!ok(r)) notes.push(`The burst at maxConcurrentBoots ${r.maxConcurrentBoots} did not empty the pool (${r.claimed} of ${SIZE} claims succeeded).`);
  return {
    rows,
    notes,
    data: {
      poolSize: SIZE,
      bootMs: BOOT_MS,
      bootJitter: 0.2,
      provisionMs: PROVISION_MS,
      pollMs: POLL_MS,
      resolutionMs: STEP_MS,
      clock: 'manual (simulated seconds)',
      speedup: round(speedup, 2),
      runs: [parallel, shipped, serial],
    },
  };
}
