/**
 * 4. Reminder fan-out: 10,000 leases whose 24 h reminder falls due at the same moment. One
 * app.reconciler.tick() queues them in the outbox; the outbox sender delivers them, outside the
 * tick, through a fake chat platform that admits N messages a second (a token bucket, as
 * Slack's and Teams' outbound queues keep to their platform's limits). Checks none is lost and
 * none sent twice, per lease and stage, in what the platform received and in the store, and
 * times the reconcile ticks that run while the fan-out drains against those before it. Then the
 * 1 h stage of the same leases through a platform without limit (the bot's own pace), the 24 h
 * stage of a few hundred through a platform that takes 20 ms to answer each message. Always at
 * 10,000 leases, --quick included: that is the figure the tick must hold while the fan-out drains.
 * (The outbox section, outbox.ts, times one change at a time and a refill beside a Slack-rate fan-out.)
 */
import { join } from 'node:path';
import { ManualClock } from '../src/adapters/manual-clock.ts';
import { benchConfig, buildApp, median, ms, percentile, PLATFORM, poolNames, round, scaleFixture, seedScale, sleepReal, tempDir, type BenchApp, type Row, type SectionResult } from './lib.ts';
import { commitTimes } from './outbox.ts';
import { RateLimitedPlatform } from './platform.ts';
import { largeLeasesPerPool } from './tick.ts';

export { RateLimitedPlatform } from './platform.ts';

const RATE_PER_S = 500;
const BURST = 10;
const TARGET_SHARE = 0.9;
const ROUND_TRIP_MS = 20;
const DAY_STAGE_MS = 24 * 3_600_000;
const HOUR_STAGE_MS = 3_600_000;
/** A tick while a fan-out drains counts as unchanged within this factor (or 5 ms) of one before it. */
const UNCHANGED = 1.5;
/** Ticks run before "before" is measured: a start's full reads are not the steady tick. */
const WARM_UP_TICKS = 3;
/** Simulated time let pass before then, beyond the minute the changes-since window overlaps. */
const SETTLE_MS = 5 * 60_000;
/** How often the loop ticks while a fan-out drains: the shipped poll while VMs are on their way. */
const TICK_EVERY_MS = 1_000;

/** Wall time of `n` ticks in a row. */
async function tickTimes(b: BenchApp, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await b.app.reconciler.tick();
    times.push(performance.now() - t0);
  }
  return times;
}

/**
 * Makes one stage due for every lease at once, runs the tick that queues them, keeps ticking
 * while the outbox sender drains them, and checks what arrived.
 */
async function deliver(b: BenchApp, clock: ManualClock, platform: RateLimitedPlatform, stageMs: number) {
  // Nothing due yet. The first ticks after a start read every lease and walk the whole cloud, and
  // servers made a moment ago are all "changed since" the last look: a few minutes on, and past
  // those first ticks, "before" is the steady tick the fan-out is compared with.
  await clock.advance(SETTLE_MS);
  await tickTimes(b, WARM_UP_TICKS);
  b.app.notifier.register(PLATFORM, platform);
  const committed = commitTimes(b);
  const leases = b.store.activeLeases();
  const before = await tickTimes(b, 5);
  // Every lease was claimed at the same moment: one second into the stage, all are due.
  await clock.advance(leases[0]!.expiresAt - stageMs + 1_000 - clock.now());

  platform.reset();
  const t0 = performance.now();
  const report = await b.app.reconciler.tick();
  const queueTickMs = performance.now() - t0;
  // The loop's ticks go on while the sender drains (a refill's poll, an expiry, a claim's kick).
  const during: number[] = [];
  while (platform.delivered.length < leases.length && performance.now() - t0 < 600_000) {
    during.push(...(await tickTimes(b, 1)));
    await sleepReal(TICK_EVERY_MS);
  }
  await b.app.outbox.idle();
  const firstAt = platform.delivered[0]?.at ?? t0;
  const lastAt = platform.delivered.at(-1)?.at ?? t0;
  // From the moment all are due (the tick starts) to the last one delivered.
  const deliverMs = lastAt - t0;
  let longestGapMs = 0;
  for (let i = 1; i < platform.delivered.length; i++) longestGapMs = Math.max(longestGapMs, platform.delivered[i]!.at - platform.delivered[i - 1]!.at);
  const wastedTokens = platform.wasted;
  const latencies = platform.delivered.map((d) => d.at - (committed.get(d.user) ?? t0));
  // A second tick must queue nothing again.
  await b.app.reconciler.tick();
  await b.app.outbox.idle();

  const perUser = new Map<string, number>();
  for (const d of platform.delivered) perUser.set(d.user, (perUser.get(d.user) ?? 0) + 1);
  const expected = new Set(leases.map((l) => l.user));
  const lost = [...expected].filter((u) => !perUser.has(u)).length;
  const duplicated = [...perUser.values()].filter((n) => n > 1).length;
  const unexpected = [...perUser.keys()].filter((u) => !expected.has(u)).length;
  const recorded = b.store.activeReminders().filter((r) => r.beforeMs === stageMs);
  const keys = new Set(recorded.map((r) => `reminder:${r.leaseId}:${r.beforeMs}:${r.expiresAt}`));
  const messages = b.store.outboxMessages({ limit: 1_000_000 }).filter((m) => keys.has(m.key));
  const recordedSent = messages.filter((m) => m.status === 'sent').length;
  const titlesOk = platform.delivered.every((d) => d.title.includes('will be torn down in'));
  const count = leases.length;
  const idealMs = (Math.max(0, count - platform.burst) / platform.ratePerS) * 1000;
  return {
    stageMs,
    reminders: count,
    delivered: platform.delivered.length,
    lost,
    duplicated,
    unexpected,
    recordedSent,
    recordedDistinct: new Set(messages.map((m) => m.key)).size,
    titlesOk,
    allowedPerS: Number.isFinite(platform.ratePerS) ? platform.ratePerS : null,
    burst: platform.burst,
    roundTripMs: platform.roundTripMs,
    deliverMs: round(deliverMs),
    queueTickMs: round(queueTickMs),
    tickBeforeMs: { median: round(median(before)), max: round(Math.max(...before)) },
    tickWhileDrainingMs: { median: round(median(during)), p99: round(percentile(during, 99)), max: round(Math.max(0, ...during)), ticks: during.length },
    latencyMs: { median: round(median(latencies)), p99: round(percentile(latencies, 99)) },
    firstToLastMs: round(lastAt - firstAt),
    firstAfterMs: round(firstAt - t0),
    longestGapMs: round(longestGapMs),
    wastedTokens: Number.isFinite(platform.ratePerS) ? Math.round(wastedTokens) : null,
    achievedPerS: round((count / deliverMs) * 1000, 1),
    shareOfAllowed: round(idealMs / deliverMs, 3),
    maxInFlight: platform.maxWaiting,
    tickActions: report.actions,
  };
}

/**
 * The large state of the tick scenario (100 pools, 10,000 leases): the 24 h stage through the
 * rate-limited platform, then the 1 h stage through one with no limit at all, which shows how
 * fast the bot alone can send. The state is closed afterwards (it has moved on by a day).
 */
async function atScale() {
  const f = scaleFixture(largeLeasesPerPool(false));
  try {
    const limited = await deliver(f.b, f.clock, new RateLimitedPlatform(RATE_PER_S, BURST), DAY_STAGE_MS);
    const unlimited = await deliver(f.b, f.clock, new RateLimitedPlatform(Number.POSITIVE_INFINITY, BURST), HOUR_STAGE_MS);
    return { limited, unlimited };
  } finally {
    await f.close();
  }
}

/** A small state of its own: `pools` pools of `leasesPerPool` leases. */
async function small(pools: number, leasesPerPool: number, platform: RateLimitedPlatform) {
  const dir = tempDir();
  const clock = new ManualClock();
  const config = benchConfig({ pools: poolNames(pools).map((name) => ({ name, size: 5, max: 5 + leasesPerPool + 100 })) });
  const b = buildApp({ config, storePath: join(dir.path, 'daaas.db'), clock, bootMs: 0, logFile: join(dir.path, 'daaas.log') });
  try {
    seedScale(b, 5, leasesPerPool);
    return await deliver(b, clock, platform, DAY_STAGE_MS);
  } finally {
    await b.close();
    dir.remove();
  }
}

export async function reminderFanOut(quick: boolean): Promise<SectionResult> {
  const { limited: bucket, unlimited } = await atScale();
  const slow = await small(3, quick ? 50 : 100, new RateLimitedPlatform(RATE_PER_S, BURST, ROUND_TRIP_MS));
  const rows: Row[] = [];
  const notes: string[] = [];
  const exact = (r: typeof bucket) => r.lost === 0 && r.duplicated === 0 && r.unexpected === 0 && r.recordedSent === r.reminders && r.recordedDistinct === r.reminders && r.titlesOk;
  const n = bucket.reminders.toLocaleString('en');
  rows.push({
    section: '4 fan-out',
    measure: `${n} reminders due at once, platform admits ${RATE_PER_S}/s (burst ${BURST})`,
    value: `all in ${ms(bucket.deliverMs)}: ${bucket.achievedPerS}/s = ${(bucket.shareOfAllowed * 100).toFixed(1)} % of allowed`,
    target: `≥ ${TARGET_SHARE * 100} % of allowed`,
    verdict: bucket.shareOfAllowed >= TARGET_SHARE ? 'pass' : 'miss',
  });
  rows.push({
    section: '4 fan-out',
    measure: `lost / duplicated (per lease and stage, platform and outbox)`,
    value: `${bucket.lost} / ${bucket.duplicated} (${bucket.delivered.toLocaleString('en')} delivered, ${bucket.recordedSent.toLocaleString('en')} recorded sent)`,
    target: '0 / 0',
    verdict: exact(bucket) ? 'pass' : 'miss',
  });
  const before = bucket.tickBeforeMs.median;
  const during = bucket.tickWhileDrainingMs.median;
  rows.push({
    section: '4 fan-out',
    measure: `reconcile tick at ${n} leases while the ${n} reminders drain (median of ${bucket.tickWhileDrainingMs.ticks}) / before`,
    value: `${ms(during)} (p99 ${ms(bucket.tickWhileDrainingMs.p99)}) / ${ms(before)}`,
    target: 'unchanged',
    verdict: during <= Math.max(before * UNCHANGED, before + 5) ? 'pass' : 'miss',
  });
  rows.push({
    section: '4 fan-out',
    measure: `the tick that queues the ${n} reminders (each with its stage record, one transaction)`,
    value: ms(bucket.queueTickMs),
    target: '—',
    verdict: 'info',
  });
  rows.push({
    section: '4 fan-out',
    measure: `state change → message leaves the outbox, in the fan-out of ${n} at ${RATE_PER_S}/s (waiting for the platform's rate)`,
    value: `median ${ms(bucket.latencyMs.median)}, p99 ${ms(bucket.latencyMs.p99)}`,
    target: '—',
    verdict: 'info',
  });
  rows.push({
    section: '4 fan-out',
    measure: `the bot alone: next stage of the same ${unlimited.reminders.toLocaleString('en')} reminders, platform without limit`,
    value: `all in ${ms(unlimited.deliverMs)}: ${unlimited.achievedPerS}/s; ${unlimited.lost} lost / ${unlimited.duplicated} dup.`,
    target: '—',
    verdict: exact(unlimited) ? 'info' : 'miss',
  });
  rows.push({
    section: '4 fan-out',
    measure: `same with a ${ROUND_TRIP_MS} ms platform round trip (${slow.reminders} reminders)`,
    value: `${slow.achievedPerS}/s = ${(slow.shareOfAllowed * 100).toFixed(1)} % of allowed; ${slow.lost} lost / ${slow.duplicated} dup.`,
    target: `≥ ${TARGET_SHARE * 100} % of allowed`,
    verdict: slow.shareOfAllowed >= TARGET_SHARE && exact(slow) ? 'pass' : 'miss',
  });
  notes.push(
    `Reminders are queued in the outbox by the tick (${ms(bucket.queueTickMs)} for ${n}) and delivered by the outbox sender outside it, at most 32 in flight: ` +
      `ticks while they drain took ${ms(during)} (median) against ${ms(before)} before. Sent from inside the tick, as before the outbox, ${n} reminders held one tick — and every refill, expiry and teardown — for the whole fan-out; at Slack's chat.postMessage rate (300/min) 10,000 would have taken at least 2,000 s.`,
  );
  if (bucket.shareOfAllowed < TARGET_SHARE) {
    const idealMs = ((bucket.reminders - BURST) / RATE_PER_S) * 1000;
    const wastedMs = ((bucket.wastedTokens ?? 0) / RATE_PER_S) * 1000;
    notes.push(
      `The fan-out reached ${(bucket.shareOfAllowed * 100).toFixed(1)} % of the allowed rate (${ms(bucket.deliverMs)} against ${ms(idealMs)} at ${RATE_PER_S}/s): ` +
        `${ms(wastedMs)} of platform capacity went unused while the bot was not asking to send, ${ms(bucket.firstAfterMs)} of it before the first message (the tick that queues them); ` +
        `the longest gap between two messages was ${ms(bucket.longestGapMs)}, and the bucket holds only ${ms((BURST / RATE_PER_S) * 1000)}. The bot alone sends ${unlimited.achievedPerS}/s, so the gaps are the process waiting for a CPU, a garbage collection or a tick: ` +
        `the loop ticked every ${TICK_EVERY_MS / 1000} s while the fan-out drained (its poll while VMs are on their way), and each tick holds the one thread for ${ms(during)} at ${n} leases.`,
    );
  }
  if (!exact(bucket) || !exact(slow) || !exact(unlimited)) notes.push('Reminders were lost or duplicated: see results.fanout in the JSON report.');
  return { rows, notes, data: { targetShare: TARGET_SHARE, rateLimitedPlatform: bucket, unlimitedPlatform: unlimited, slowPlatform: slow } };
}
