import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityEvent, Metrics, MetricsSummary } from '../../ports/metrics.ts';
import { WaitlistMetrics } from './waitlist-metrics.ts';

/** Buckets in seconds for latencies from a millisecond (a claim) to a quarter of an hour (a play). */
const FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SLOW = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900];
const RECENT_CLAIMS = 1_000;

export interface PoolCounts {
  pool: string;
  state: string;
  count: number;
}

/** A pool's circuit breaker as scraped: `closed`, `open` or `trial`. */
export interface PoolCircuit {
  pool: string;
  state: string;
}

/**
 * The Metrics port on prom-client, with its own registry (so tests and several bots in one
 * process do not collide). Pool gauges are read from the store when scraped, never cached.
 */
export class PromMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly commands: Histogram<'command' | 'result'>;
  private readonly claims: Counter<'result'>;
  private readonly ticks: Histogram;
  private readonly boots: Histogram<'pool'>;
  private readonly provisions: Histogram<'pool'>;
  private readonly provisionFailures: Counter<'pool'>;
  private readonly reminders: Counter<'result'>;
  private readonly empty: Counter<'pool'>;
  private readonly cloud: Counter<'operation' | 'result'>;
  private readonly cloudErrors: Counter<'operation' | 'result'>;
  private readonly cloudLatency: Histogram<'operation'>;
  private readonly idleHours: Counter<'pool'>;
  private readonly idlePrompts: Counter<'pool' | 'outcome'>;
  private readonly graces: Counter<'pool'>;
  private readonly probeFailures: Counter<'pool'>;
  private readonly recentClaims: number[] = [];
  private readonly emptyMs = new Map<string, number>();
  /** Queue length, claim-to-VM wait, holds, claims served at once (waitlist-metrics.ts). */
  private readonly waitlist: WaitlistMetrics;

  private poolCircuits: () => PoolCircuit[] = () => [];
  private openAlerts: () => { kind: string; pool: string }[] = () => [];

  constructor(poolCounts: () => PoolCounts[], options: { processMetrics?: boolean } = {}) {
    const r = [this.registry];
    this.commands = new Histogram({ name: 'daaas_command_duration_seconds', help: 'Chat commands, command in to reply out', labelNames: ['command', 'result'], buckets: FAST, registers: r });
    this.claims = new Counter({ name: 'daaas_claims_total', help: 'Claims by result (ok or the refusal code)', labelNames: ['result'], registers: r });
    this.ticks = new Histogram({ name: 'daaas_scheduler_tick_duration_seconds', help: 'Reconcile ticks', buckets: FAST, registers: r });
    this.boots = new Histogram({ name: 'daaas_boot_duration_seconds', help: 'VM creation to ACTIVE', labelNames: ['pool'], buckets: SLOW, registers: r });
    this.provisions = new Histogram({ name: 'daaas_provisioning_duration_seconds', help: 'ACTIVE to provisioned (ready)', labelNames: ['pool'], buckets: SLOW, registers: r });
    this.provisionFailures = new Counter({ name: 'daaas_provisioning_failures_total', help: 'VMs failed before they were ready', labelNames: ['pool'], registers: r });
    this.reminders = new Counter({ name: 'daaas_reminders_total', help: 'Reminder and teardown messages by result', labelNames: ['result'], registers: r });
    this.empty = new Counter({ name: 'daaas_pool_empty_seconds_total', help: 'Time each pool spent without a ready VM', labelNames: ['pool'], registers: r });
    this.cloud = new Counter({ name: 'daaas_cloud_calls_total', help: 'Cloud API calls by operation and result', labelNames: ['operation', 'result'], registers: r });
    this.cloudErrors = new Counter({ name: 'daaas_cloud_errors_total', help: 'Failed cloud API calls by operation and status', labelNames: ['operation', 'result'], registers: r });
    this.cloudLatency = new Histogram({ name: 'daaas_cloud_call_duration_seconds', help: 'Cloud API calls', labelNames: ['operation'], buckets: FAST, registers: r });
    this.idleHours = new Counter({ name: 'daaas_idle_vm_hours_total', help: 'Claimed VMs found idle (no session, no busy process of the holder), in VM-hours', labelNames: ['pool'], registers: r });
    this.idlePrompts = new Counter({ name: 'daaas_idle_prompts_total', help: 'Holders asked about an idle VM (sent) and idle VMs released by the bot (released)', labelNames: ['pool', 'outcome'], registers: r });
    this.graces = new Counter({ name: 'daaas_graces_total', help: 'Teardowns postponed once because a job was running', labelNames: ['pool'], registers: r });
    this.probeFailures = new Counter({ name: 'daaas_activity_probe_failures_total', help: 'Activity probes that failed or timed out (activity unknown)', labelNames: ['pool'], registers: r });
    new Gauge({
      name: 'daaas_pool_vms',
      help: 'VMs per pool and state (ready, booting, provisioning, claimed, releasing, failed)',
      labelNames: ['pool', 'state'],
      registers: r,
      collect() {
        this.reset();
        for (const { pool, state, count } of poolCounts()) this.set({ pool, state }, count);
      },
    });
    const circuits = () => this.poolCircuits();
    new Gauge({
      name: 'daaas_pool_circuit_open',
      help: 'Whether a pool stopped booting after failures in a row: 1 open (or trying one boot), 0 closed',
      labelNames: ['pool', 'state'],
      registers: r,
      collect() {
        this.reset();
        for (const { pool, state } of circuits()) this.set({ pool, state }, state === 'closed' ? 0 : 1);
      },
    });
    const alerts = () => this.openAlerts();
    new Gauge({
      name: 'daaas_alerts_open',
      help: 'Open alerts to the operators, by kind and pool (pool "" for the cloud and for a user\'s set-up failures)',
      labelNames: ['kind', 'pool'],
      registers: r,
      collect() {
        this.reset();
        for (const { kind, pool } of alerts()) this.inc({ kind, pool });
      },
    });
    this.waitlist = new WaitlistMetrics(this.registry);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'daaas_' });
  }

  watchCircuits(read: () => PoolCircuit[]): void {
    this.poolCircuits = read;
  }

  watchAlerts(read: () => { kind: string; pool: string }[]): void {
    this.openAlerts = read;
  }

  watchQueues(read: () => { pool: string; length: number }[]): void { this.waitlist.watchQueues(read); }
  hold(pool: string, event: 'offered' | 'taken' | 'passed' | 'lapsed'): void { this.waitlist.hold(pool, event); }
  claimServed(pool: string, waitedMs: number): void { this.waitlist.claimServed(pool, waitedMs); }

  command(name: string, result: string, ms: number): void {
    this.commands.observe({ command: name, result }, ms / 1000);
    if (name !== 'claim') return;
    this.claims.inc({ result });
    this.recentClaims.push(ms);
    if (this.recentClaims.length > RECENT_CLAIMS) this.recentClaims.shift();
  }

  tick(ms: number): void {
    this.ticks.observe(ms / 1000);
  }

  vmReady(pool: string, bootMs: number, provisionMs: number): void {
    this.boots.observe({ pool }, bootMs / 1000);
    this.provisions.observe({ pool }, provisionMs / 1000);
  }

  provisioningFailed(pool: string): void {
    this.provisionFailures.inc({ pool });
  }

  reminder(result: 'sent' | 'failed'): void {
    this.reminders.inc({ result });
  }

  activity(event: ActivityEvent): void {
    const pool = event.pool;
    if (event.kind === 'idle-time') this.idleHours.inc({ pool }, event.ms / 3_600_000);
    else if (event.kind === 'idle-prompt') this.idlePrompts.inc({ pool, outcome: 'sent' });
    else if (event.kind === 'idle-release') this.idlePrompts.inc({ pool, outcome: 'released' });
    else if (event.kind === 'grace') this.graces.inc({ pool });
    else this.probeFailures.inc({ pool });
  }

  poolEmpty(pool: string, ms: number): void {
    this.empty.inc({ pool }, ms / 1000);
    this.emptyMs.set(pool, (this.emptyMs.get(pool) ?? 0) + ms);
  }

  cloudCall(operation: string, result: string, ms: number): void {
    this.cloud.inc({ operation, result });
    if (result !== 'ok') this.cloudErrors.inc({ operation, result });
    this.cloudLatency.observe({ operation }, ms / 1000);
  }

  summary(): MetricsSummary {
    const sorted = [...this.recentClaims].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { claimLatencyMs: sorted.length ? { p50: at(0.5), p95: at(0.95), count: sorted.length } : null, emptyMs: new Map(this.emptyMs) };
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
