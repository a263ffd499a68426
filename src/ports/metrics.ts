/**
 * What the bot reports about itself: every entry point and the scheduler call these; the
 * Prometheus adapter turns them into /metrics and keeps the few figures admins see in chat.
 */
export interface Metrics {
  /** A chat command answered, with its outcome (`ok` or an error code) and how long it took. */
  command(name: string, result: string, ms: number): void;
  /** One reconcile tick. */
  tick(ms: number): void;
  /** A VM became ready: from creation to ACTIVE, and from ACTIVE to provisioned. */
  vmReady(pool: string, bootMs: number, provisionMs: number): void;
  provisioningFailed(pool: string): void;
  reminder(result: 'sent' | 'failed'): void;
  /** A pool had no ready VM for `ms` (since the last report). */
  poolEmpty(pool: string, ms: number): void;
  /** A call to the cloud's API: `ok`, or the HTTP status / `network` when it failed. */
  cloudCall(operation: string, result: string, ms: number): void;
  /** The figures `admin pools` shows. */
  summary(): MetricsSummary;
  /** What the activity monitor saw and did (idle time, idle prompts and releases, graces, failed probes). */
  activity?(event: ActivityEvent): void;
  /** Where each pool's circuit breaker is read when the metrics are scraped (`closed`, `open`, `trial`). */
  watchCircuits?(read: () => { pool: string; state: string }[]): void;
  /** Where the open alerts are read when the metrics are scraped (one entry per alert). */
  watchAlerts?(read: () => { kind: string; pool: string }[]): void;
  /** The waitlist: a VM held for the first in line was offered, taken, passed on, or let lapse. */
  hold?(pool: string, event: 'offered' | 'taken' | 'passed' | 'lapsed'): void;
  /** A claim was served, `waitedMs` after it was made: 0 when a VM was ready at once, else the time in the queue. */
  claimServed?(pool: string, waitedMs: number): void;
  /** Where each pool's queue length is read when the metrics are scraped. */
  watchQueues?(read: () => { pool: string; length: number }[]): void;
}

export interface MetricsSummary {
  /** Claim latency over the recent claims (command in → reply out), or null before the first. */
  claimLatencyMs: { p50: number; p95: number; count: number } | null;
  /** Time each pool has spent without a ready VM since the bot started. */
  emptyMs: ReadonlyMap<string, number>;
}

/** For tests and tools that measure nothing. */
export const noMetrics: Metrics = {
  command() {},
  tick() {},
  vmReady() {},
  provisioningFailed() {},
  reminder() {},
  poolEmpty() {},
  cloudCall() {},
  summary: () => ({ claimLatencyMs: null, emptyMs: new Map() }),
};

/** One event of the activity monitor, per pool: `idle-time` carries the idle time it adds. */
export type ActivityEvent =
  | { kind: 'idle-time'; pool: string; ms: number }
  | { kind: 'idle-prompt' | 'idle-release' | 'grace' | 'probe-failed'; pool: string };
