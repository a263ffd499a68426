/**
 * The outbox section: the time from a state change to its message leaving the outbox one change
 * at a time (median, 99th percentile), and a pool refill while a fan-out drains at Slack's real
 * rate. (The fan-out section, fanout.ts, gives the same latency inside a fan-out of 10,000.)
 */
import { join } from 'node:path';
import { ManualClock } from '../src/adapters/manual-clock.ts';
import { benchConfig, buildApp, median, ms, percentile, PLATFORM, round, seedReady, settle, tempDir, type BenchApp, type Row, type SectionResult } from './lib.ts';
import { RateLimitedPlatform } from './platform.ts';

const DAY_STAGE_MS = 24 * 3_600_000;
/** chat.postMessage's sustained rate across a workspace: 300 a minute. */
export const SLACK_RATE_PER_S = 5;
const BURST = 10;

/**
 * When each message was committed to the outbox, by recipient: the sender is woken inside the
 * transaction that queues a message, and a microtask after it runs once the transaction committed.
 */
export function commitTimes(b: BenchApp): Map<string, number> {
  const committed = new Map<string, number>();
  const waiting: string[] = [];
  const enqueue = b.store.enqueueMessage.bind(b.store);
  b.store.enqueueMessage = (message) => {
    const queued = enqueue(message);
    if (queued) {
      if (waiting.length === 0) queueMicrotask(() => {
        const at = performance.now();
        for (const user of waiting.splice(0)) committed.set(user, at);
      });
      waiting.push(message.to.user);
    }
    return queued;
  };
  return committed;
}

/**
 * One change at a time: `count` leases claimed a second apart, so their 24 h stages fall due a
 * second apart; each tick queues one reminder. Time from its commit to the platform's call.
 */
export async function oneAtATime(count: number) {
  const dir = tempDir();
  const clock = new ManualClock();
  const config = benchConfig({ pools: [{ name: 'p000', size: 5, max: count + 10 }] });
  const b = buildApp({ config, storePath: join(dir.path, 'daaas.db'), clock, bootMs: 0, logFile: join(dir.path, 'daaas.log') });
  try {
    const pool = config.pools[0]!;
    seedReady(b, pool, count + 5);
    for (let i = 0; i < count; i++) {
      const outcome = b.store.claim({ pool: pool.name, user: `one${i}`, platform: PLATFORM, conversation: `dm-one${i}`, now: clock.now(), leaseMs: pool.leaseMs, maxLeasesPerUser: 1 });
      if (outcome.ok) b.store.markHomeReady(outcome.lease.id, clock.now());
      await clock.advance(1_000);
    }
    await b.app.reconciler.tick();
    const platform = new RateLimitedPlatform(Number.POSITIVE_INFINITY, BURST);
    b.app.notifier.register(PLATFORM, platform);
    const committed = commitTimes(b);
    const first = b.store.activeLeases()[0]!;
    await clock.advance(first.expiresAt - DAY_STAGE_MS - clock.now());
    for (let i = 0; i < count; i++) {
      await b.app.reconciler.tick();
      await b.app.outbox.idle();
      await clock.advance(1_000);
    }
    const latencies = platform.delivered.map((d) => d.at - committed.get(d.user)!);
    return { messages: platform.delivered.length, medianMs: round(median(latencies)), p99Ms: round(percentile(latencies, 99)) };
  } finally {
    await b.close();
    dir.remove();
  }
}

/**
 * A 20-VM pool emptied by a burst of claims refills (boot 5 s, provisioning 3 s, simulated) while
 * `leases` reminders drain at Slack's chat.postMessage rate (300 a minute, real time). A tick
 * that waited on the platform would hold the refill for the whole fan-out (`leases` / 5 s).
 */
export async function refillDuringSlackFanOut(leases: number) {
  const SIZE = 20;
  const dir = tempDir();
  const clock = new ManualClock();
  const config = benchConfig({ pools: [{ name: 'lab', size: 0, max: leases }, { name: 'workshop', size: SIZE, max: 2 * SIZE }], bootTime: '5s', provisionTime: '3s', personaliseTime: 0, poll: '1s' });
  const b = buildApp({ config, storePath: join(dir.path, 'daaas.db'), clock, logFile: join(dir.path, 'daaas.log') });
  const ready = () => b.store.listVms({ pool: 'workshop', states: ['ready'] }).length;
  const loop = async (done: () => boolean) => {
    const start = clock.now();
    let ticks = 0;
    while (!done() && clock.now() - start < 120_000) {
      await b.app.reconciler.tick();
      await settle();
      ticks++;
      await clock.advance(1_000);
    }
    return { simulatedS: (clock.now() - start) / 1000, ticks };
  };
  try {
    await loop(() => ready() === SIZE);
    // The lab's leases are seeded on servers that are up at once, as seedReady needs.
    const lab = config.pools[0]!;
    (b.cloud as unknown as { options: { bootMs: number } }).options.bootMs = 0;
    seedReady(b, lab, leases);
    (b.cloud as unknown as { options: { bootMs: number } }).options.bootMs = 5_000;
    for (let i = 0; i < leases; i++) {
      const outcome = b.store.claim({ pool: lab.name, user: `lab${i}`, platform: PLATFORM, conversation: `dm-lab${i}`, now: clock.now(), leaseMs: lab.leaseMs, maxLeasesPerUser: 1 });
      if (outcome.ok) b.store.markHomeReady(outcome.lease.id, clock.now());
    }
    const platform = new RateLimitedPlatform(SLACK_RATE_PER_S, BURST);
    b.app.notifier.register(PLATFORM, platform);
    await clock.advance(lab.leaseMs - DAY_STAGE_MS + 1_000);
    await Promise.all(Array.from({ length: SIZE }, (_, i) => b.app.dispatch({ platform: PLATFORM, account: `student${i}`, conversation: `dm-student${i}`, text: 'claim workshop' })));
    const emptied = ready() === 0;
    const t0 = performance.now();
    const refill = await loop(() => ready() === SIZE);
    const wallS = (performance.now() - t0) / 1000;
    return { leases, emptied, refilled: ready() === SIZE, refillSimulatedS: refill.simulatedS, refillWallS: round(wallS, 2), ticks: refill.ticks, sentMeanwhile: platform.delivered.length };
  } finally {
    await b.close();
    dir.remove();
  }
}

export async function outboxLatency(quick: boolean): Promise<SectionResult> {
  const one = await oneAtATime(quick ? 100 : 300);
  const refill = await refillDuringSlackFanOut(quick ? 200 : 1_000);
  const rows: Row[] = [
    {
      section: '4b outbox',
      measure: `state change → message leaves the outbox, one change at a time (${one.messages} changes)`,
      value: `median ${ms(one.medianMs)}, p99 ${ms(one.p99Ms)}`,
      target: '—',
      verdict: one.messages > 0 ? 'info' : 'miss',
    },
    {
      section: '4b outbox',
      measure: `refill of a 20-VM pool while ${refill.leases} reminders drain at Slack's rate (${SLACK_RATE_PER_S}/s)`,
      value: `${refill.refillSimulatedS.toFixed(1)} s simulated in ${refill.refillWallS} s of wall time (${refill.sentMeanwhile} sent meanwhile)`,
      target: `wall ≪ ${refill.leases / SLACK_RATE_PER_S} s`,
      verdict: refill.emptied && refill.refilled && refill.refillWallS < refill.leases / SLACK_RATE_PER_S / 4 ? 'pass' : 'miss',
    },
  ];
  return { rows, notes: [], data: { oneAtATime: one, refillDuringSlackFanOut: refill } };
}
