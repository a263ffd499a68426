/**
 * Shared pieces of the benchmark: the app assembled as main.ts assembles the embedded default
 * (SqliteStore, SimCloud, SimProvisioner, PromMetrics) but on a manual clock, state seeded
 * through the Store API, the large state shared by the tick and fan-out scenarios, statistics
 * and the table.
 */
import { seeded } from '../test/helpers/harness.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import YAML from 'yaml';
import { ManualClock } from '../src/adapters/manual-clock.ts';
import { MeteredCloud } from '../src/adapters/metrics/metered-cloud.ts';
import { PromMetrics, type PoolCounts } from '../src/adapters/metrics/prom-metrics.ts';
import { SimCloud } from '../src/adapters/sim-cloud/sim-cloud.ts';
import { SimProvisioner } from '../src/adapters/sim-provisioner.ts';
import { SqliteStore } from '../src/adapters/sqlite/sqlite-store.ts';
import { createApp, type App } from '../src/app.ts';
import type { Reply } from '../src/chat/reply.ts';
import { parseConfig, type AppConfig } from '../src/config/load-config.ts';
import type { PoolSpec, Vm } from '../src/core/model.ts';
import { META } from '../src/core/plan-pools.ts';
import type { Clock } from '../src/ports/clock.ts';
import type { Cloud, CloudLimits, CloudServer, CreateServerRequest } from '../src/ports/cloud.ts';
import { silentLogger } from '../src/ports/logger.ts';
import type { Notifier, Recipient } from '../src/ports/notifier.ts';
import type { Directory } from '../src/ports/directory.ts';
import type { ClaimAccount, Personalisation, Provisioner, RunLog } from '../src/ports/provisioner.ts';

/** The platform every benchmark invocation comes from; its notifier receives the direct messages. */
export const PLATFORM = 'bench';

// ---- results ------------------------------------------------------------------------------------

export type Verdict = 'pass' | 'miss' | 'info';

export interface Row {
  section: string;
  measure: string;
  value: string;
  target: string;
  verdict: Verdict;
  /** The figure of the targets table this row answers (targets.ts), if any. */
  figure?: string | undefined;
}

export interface SectionResult {
  rows: Row[];
  /** Everything measured, for the JSON report. */
  data: Record<string, unknown>;
  /** Targets missed or caveats, said in words. */
  notes: string[];
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function ms(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(digits)} ms`;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function printTable(rows: readonly Row[]): string {
  const head: Row = { section: 'section', measure: 'measure', value: 'value', target: 'target', verdict: 'info' };
  const cells = (r: Row) => [r.section, r.measure, r.value, r.target, r === head ? 'result' : r.verdict];
  const all = [head, ...rows].map(cells);
  const widths = all[0]!.map((_, i) => Math.max(...all.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(all[0]!), line(widths.map((w) => '-'.repeat(w))), ...all.slice(1).map(line)].join('\n');
}

// ---- time -------------------------------------------------------------------------------------

/** Lets promise continuations and immediate callbacks run (as ManualClock.advance does). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export const sleepReal = (msec: number) => new Promise<void>((resolve) => setTimeout(resolve, msec));

/** User + system CPU time of this process, in milliseconds. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}


export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'daaas-bench-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

// ---- configuration ----------------------------------------------------------------------------

export interface BenchPool {
  name: string;
  size: number;
  max: number;
}

export interface BenchConfigOptions {
  pools: BenchPool[];
  maxConcurrentBoots?: number;
  poll?: string;
  bootTime?: string;
  provisionTime?: string;
  personaliseTime?: string | 0;
  /** Simulated API latency per call ('20ms' in the shipped config); 0 on a manual clock. */
  latency?: string | 0;
}

/**
 * A configuration in the shipped file's shape (config/default.yaml: its lease, reminders,
 * scheduler and simulated times), with the pools a scenario needs, open to every account.
 */
export function benchConfig(o: BenchConfigOptions): AppConfig {
  const doc = {
    instance: 'bench',
    access: { admins: [], groups: { everyone: ['*'] } },
    defaults: { lease: '48h', remindBefore: ['24h', '1h', '10m'], extensionStep: '24h', maxExtensions: 2, maxLeasesPerUser: 1, networks: ['facility-analysis'] },
    scheduler: {
      schedule: '* * * * *',
      maxConcurrentBoots: o.maxConcurrentBoots ?? 10,
      readinessTimeout: '600s',
      failedRetention: '5m',
      backoffInitial: '30s',
      backoffMax: '30m',
      poll: o.poll ?? '1s',
    },
    cloud: {
      driver: 'simulated',
      simulated: {
        bootTime: o.bootTime ?? '4s',
        latency: o.latency ?? 0,
        quota: { instances: 100_000, cores: 100_000 },
        flavors: { 'm1.large': { vcpus: 4 } },
        images: ['analysis-base', 'analysis-gpu'],
      },
    },
    provisioner: { driver: 'simulated', simulated: { provisionTime: o.provisionTime ?? '3s', personaliseTime: o.personaliseTime ?? '2s' } },
    pools: Object.fromEntries(
      o.pools.map((p, i) => [
        p.name,
        {
          image: i % 2 === 0 ? 'analysis-base' : 'analysis-gpu',
          flavor: 'm1.large',
          size: p.size,
          max: p.max,
          groups: ['everyone'],
          owner: { name: 'Benchmark', contact: 'bench@facility.example' },
        },
      ]),
    ),
  };
  return parseConfig(YAML.stringify(doc), 'bench.yaml', {});
}

/** `count` pool names: p000, p001, … */
export function poolNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `p${String(i).padStart(3, '0')}`);
}

// ---- the app ----------------------------------------------------------------------------------

/** Counts how often each Cloud method is called: a paged list walk counts once here, per page in SimCloud.calls. */
export class CountingCloud implements Cloud {
  readonly walks = { listServers: 0, listChanges: 0, getServer: 0, createServer: 0, deleteServer: 0, limits: 0, imageId: 0, flavorCores: 0 };
  constructor(readonly inner: Cloud) {}
  listServers(tag: string): Promise<CloudServer[]> {
    this.walks.listServers++;
    return this.inner.listServers(tag);
  }
  listChanges(tag: string, since: number): Promise<CloudServer[]> {
    this.walks.listChanges++;
    return this.inner.listChanges(tag, since);
  }
  getServer(id: string): Promise<CloudServer | null> {
    this.walks.getServer++;
    return this.inner.getServer(id);
  }
  createServer(request: CreateServerRequest): Promise<CloudServer> {
    this.walks.createServer++;
    return this.inner.createServer(request);
  }
  deleteServer(id: string): Promise<void> {
    this.walks.deleteServer++;
    return this.inner.deleteServer(id);
  }
  limits(): Promise<CloudLimits> {
    this.walks.limits++;
    return this.inner.limits();
  }
  imageId(name: string): Promise<string> {
    this.walks.imageId++;
    return this.inner.imageId(name);
  }
  flavorCores(flavor: string): Promise<number> {
    this.walks.flavorCores++;
    return this.inner.flavorCores(flavor);
  }
}

/** Passes every call to the simulated provisioner, and says when a run finished (the real TickLoop is kicked then). */
export class ObservedProvisioner implements Provisioner {
  finished = 0;
  constructor(readonly inner: Provisioner) {}
  async provision(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void> {
    try {
      await this.inner.provision(vm, pool, signal);
    } finally {
      this.finished++;
    }
  }
  async personalise(vm: Vm, pool: PoolSpec, account: string | ClaimAccount, signal: AbortSignal): Promise<Personalisation> {
    try {
      return await this.inner.personalise(vm, pool, account, signal);
    } finally {
      this.finished++;
    }
  }
  release(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void> {
    return this.inner.release(vm, pool, signal);
  }
  lastLog(vmName: string, maxLines?: number): Promise<RunLog | undefined> {
    return this.inner.lastLog(vmName, maxLines);
  }
}

/** Records every direct message, at once. */
export class RecordingPlatform implements Notifier {
  readonly sent: { to: Recipient; title: string }[] = [];
  async notify(to: Recipient, message: Reply): Promise<void> {
    this.sent.push({ to, title: message.title });
  }
}

export interface BenchApp {
  app: App;
  config: AppConfig;
  clock: Clock;
  cloud: SimCloud;
  counting: CountingCloud;
  store: SqliteStore;
  provisioner: ObservedProvisioner;
  platform: RecordingPlatform;
  close(): Promise<void>;
}

export interface BuildOptions {
  config: AppConfig;
  /** A file in a temp dir, as in production, or ':memory:'. */
  storePath: string;
  clock?: Clock;
  /** The simulated cloud's own clock (its boot times and API latency); the app's clock by default. */
  cloudClock?: Clock;
  /** Overrides the configured boot time (0: servers are ACTIVE at once, for seeding). */
  bootMs?: number;
  pageSize?: number;
  seed?: number;
  /** Log as the shell mode of main.ts does: pino, info level, synchronous writes to this file. Silent without. */
  logFile?: string;
  /** The facility directory, when the configuration names one. */
  directory?: Directory;
}

/** VMs per pool and state, for the pool gauges (as main.ts reads them when /metrics is scraped). */
function poolCounts(store: SqliteStore): PoolCounts[] {
  const counts = new Map<string, PoolCounts>();
  for (const vm of store.listVms()) {
    const key = `${vm.pool}/${vm.state}`;
    const entry = counts.get(key) ?? { pool: vm.pool, state: vm.state, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

/**
 * The embedded default as src/main.ts composes it (buildCloud, buildProvisioner, PromMetrics,
 * MeteredCloud, createApp), except: a manual clock unless one is given, a seeded random, and no
 * SimCloud state file (it rewrites the whole JSON on every create and delete: a simulator cost,
 * not the bot's), and no HTTP server or chat adapter (the fake platform takes their place).
 */
export function buildApp(o: BuildOptions): BenchApp {
  const { config } = o;
  if (config.cloud.driver !== 'simulated' || config.provisioner.driver !== 'simulated') throw new Error('the benchmark runs on the embedded default');
  const clock = o.clock ?? new ManualClock();
  const random = seeded(o.seed ?? 7);
  const sim = config.cloud.simulated;
  const cloud = new SimCloud({
    clock: o.cloudClock ?? clock,
    bootMs: o.bootMs ?? sim.bootTime,
    bootFailureRate: sim.bootFailureRate,
    apiFailureRate: sim.apiFailureRate,
    latencyMs: sim.latency,
    quota: sim.quota,
    flavors: sim.flavors,
    images: sim.images,
    random,
    ...(o.pageSize ? { pageSize: o.pageSize } : {}),
  });
  const counting = new CountingCloud(cloud);
  const p = config.provisioner.simulated;
  const provisioner = new ObservedProvisioner(new SimProvisioner({ clock, provisionMs: p.provisionTime, personaliseMs: p.personaliseTime, failureRate: p.failureRate, random }));
  const store = new SqliteStore(o.storePath);
  const metrics = new PromMetrics(() => poolCounts(store), { processMetrics: true });
  const destination = o.logFile ? pino.destination({ dest: o.logFile, sync: true }) : null;
  const log = destination ? pino({ level: 'info', base: { service: 'daaas' }, redact: ['*.token', '*.password', '*.secret'] }, destination) : silentLogger;
  const app = createApp({ config, store, cloud: new MeteredCloud(counting, metrics, clock), provisioner, clock, log, metrics, ...(o.directory ? { directory: o.directory } : {}) });
  const platform = new RecordingPlatform();
  app.notifier.register(PLATFORM, platform);
  // Delivered from the outbox as the bot does once its loop starts (no loop runs here).
  app.outbox.start();
  return {
    app,
    config,
    clock,
    cloud,
    counting,
    store,
    provisioner,
    platform,
    async close() {
      await app.stop();
      store.close();
      destination?.destroy();
    },
  };
}

// ---- seeding state through the Store API ------------------------------------------------------

/**
 * Adds `count` ready VMs to a pool: the store record first, then its server (tagged and
 * carrying the record's id, as the reconciler boots them), then the record made ready, all in
 * one transaction. The cloud must boot at once (bootMs 0) so the servers are ACTIVE.
 */
export function seedReady(b: BenchApp, pool: PoolSpec, count: number): void {
  const now = b.clock.now();
  const tag = b.app.reconciler.tag;
  b.store.transaction(() => {
    for (let i = 0; i < count; i++) {
      const vm = b.store.createVm({ pool: pool.name, image: pool.image, flavor: pool.flavor, createdAt: now });
      const server = b.cloud.inject({
        name: vm.name,
        image: pool.image,
        flavor: pool.flavor,
        networks: pool.networks,
        metadata: { [META.managedBy]: b.config.instance, [META.pool]: pool.name, [META.vm]: vm.id },
        tags: [tag],
      });
      if (server.status !== 'ACTIVE') throw new Error('seeding needs a cloud that boots at once (bootMs 0)');
      b.store.updateVm(vm.id, { serverId: server.id, address: server.address, state: 'ready', readyAt: now }, now, 'booting');
    }
  });
}

/** Claims `count` of the pool's ready VMs for distinct accounts through Store.claim, homes already set up. */
export function seedLeases(b: BenchApp, pool: PoolSpec, count: number, accountPrefix: string): void {
  const now = b.clock.now();
  b.store.transaction(() => {
    for (let i = 0; i < count; i++) {
      const user = `${accountPrefix}${i}`;
      const outcome = b.store.claim({ pool: pool.name, user, platform: PLATFORM, conversation: `dm-${user}`, now, leaseMs: pool.leaseMs, maxLeasesPerUser: pool.maxLeasesPerUser });
      if (!outcome.ok) throw new Error(`seeding a lease failed: ${outcome.reason}`);
      b.store.markHomeReady(outcome.lease.id, now);
    }
  });
}

/** Every pool gets `ready` warm VMs and `leased` claimed ones (leases with homes ready). */
export function seedScale(b: BenchApp, ready: number, leased: number): void {
  for (const pool of b.config.pools) {
    seedReady(b, pool, ready + leased);
    seedLeases(b, pool, leased, `${pool.name}u`);
  }
}

// ---- the shared large state ---------------------------------------------------------------------

/**
 * The simulated cloud's clock in the scale scenarios: time is the app's manual clock; the API
 * latency (20 ms a request, as shipped) is either not waited for at all — to measure the bot's
 * own work — or waited for in real time, to see what the embedded default really spends.
 */
export class CloudClock implements Clock {
  realLatency = false;
  constructor(private readonly manual: ManualClock) {}
  now(): number {
    return this.manual.now();
  }
  elapsedMs(): number {
    return this.manual.now();
  }
  async sleep(msec: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (this.realLatency) await sleepReal(msec);
  }
}

export const SCALE_POOLS = 100;
export const SCALE_READY_PER_POOL = 5;
export const SIM_LATENCY_MS = 20;

export interface ScaleFixture {
  b: BenchApp;
  clock: ManualClock;
  cloudClock: CloudClock;
  leasesPerPool: number;
  seedSeconds: number;
  close(): Promise<void>;
}

const fixtures = new Map<number, ScaleFixture>();

/**
 * 100 pools, each with 5 warm VMs and `leasesPerPool` claimed ones (homes set up), on a SQLite
 * file: built once and shared by the tick and fan-out scenarios (seeding 10,000 leases through
 * the Store API takes seconds).
 */
export function scaleFixture(leasesPerPool: number): ScaleFixture {
  const existing = fixtures.get(leasesPerPool);
  if (existing) return existing;
  const dir = tempDir();
  const clock = new ManualClock();
  const cloudClock = new CloudClock(clock);
  const config = benchConfig({
    pools: poolNames(SCALE_POOLS).map((name) => ({ name, size: SCALE_READY_PER_POOL, max: SCALE_READY_PER_POOL + leasesPerPool + 100 })),
    latency: `${SIM_LATENCY_MS}ms`,
  });
  const b = buildApp({ config, storePath: join(dir.path, 'daaas.db'), clock, cloudClock, bootMs: 0, logFile: join(dir.path, 'daaas.log') });
  const t0 = performance.now();
  seedScale(b, SCALE_READY_PER_POOL, leasesPerPool);
  const fixture: ScaleFixture = {
    b,
    clock,
    cloudClock,
    leasesPerPool,
    seedSeconds: round((performance.now() - t0) / 1000, 1),
    async close() {
      fixtures.delete(leasesPerPool);
      await b.close();
      dir.remove();
    },
  };
  fixtures.set(leasesPerPool, fixture);
  return fixture;
}

export async function closeFixtures(): Promise<void> {
  for (const f of [...fixtures.values()]) await f.close();
}
