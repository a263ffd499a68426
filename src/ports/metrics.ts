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
  /** Where each pool's circuit breaker is read when the metrics are scraped (`closed`, `open`, `trial`). */
  watchCircuits?(read: () => { pool: string; state: string }[]): void;
  /** Where the open alerts are read when the metrics are scraped (one entry per alert). */
  watchAlerts?(read: () => { kind: string; pool: string }[]): void;
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
