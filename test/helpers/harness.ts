import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { PromMetrics } from '../../src/adapters/metrics/prom-metrics.ts';
import { SimCloud } from '../../src/adapters/sim-cloud/sim-cloud.ts';
import { SimActivityProbe } from '../../src/adapters/sim-activity.ts';
import { SimProvisioner } from '../../src/adapters/sim-provisioner.ts';
import { SqliteActivity } from '../../src/adapters/sqlite/activity.ts';
import { SqliteAlerts } from '../../src/adapters/sqlite/alerts.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { createApp, type App } from '../../src/app.ts';
import type { Reply } from '../../src/chat/reply.ts';
import { renderText } from '../../src/chat/shell/render-text.ts';
import { parseConfig, type AppConfig } from '../../src/config/load-config.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import type { Clock } from '../../src/ports/clock.ts';
import type { Directory } from '../../src/ports/directory.ts';
import { DEFAULT_ACTIVITY } from '../../src/scheduler/activity-monitor.ts';
import { UndeliverableError, type Notifier, type Recipient } from '../../src/ports/notifier.ts';

/** A small configuration for tests: two pools, fast simulated boots, quick back-off. */
export const TEST_CONFIG = `
instance: test
access:
  admins: [root]
  groups:
    physics: [alice, bob, carol]
    imaging: [dave]
defaults:
  lease: 48h
  remindBefore: [24h, 1h, 10m]
  extensionStep: 24h
  maxExtensions: 2
  # Most tests are about an empty pool's answer, not the waitlist (test/core/waitlist-service.test.ts turns it on).
  queue: false
scheduler:
  maxConcurrentBoots: 50
  readinessTimeout: 600s
  failedRetention: 5m
  backoffInitial: 30s
  backoffMax: 5m
  poll: 2s
cloud:
  driver: simulated
  simulated:
    bootTime: 5s
    latency: 0
    quota: { instances: 100, cores: 1000 }
    flavors: { m1.large: { vcpus: 4 }, g1.gpu: { vcpus: 8, gpus: 1 } }
    images: [physics-base, imaging-gpu]
provisioner:
  driver: simulated
  simulated: { provisionTime: 4s }
pools:
  physics:
    image: physics-base
    flavor: m1.large
    size: 3
    max: 6
    groups: [physics]
    owner: { name: Physics software, contact: physics@facility.example }
  imaging:
    image: imaging-gpu
    flavor: g1.gpu
    gpu: true
    size: 1
    max: 2
    lease: 24h
    remindBefore: [2h, 10m]
    maxExtensions: 1
    extensionStep: 12h
    groups: [imaging]
    owner: { name: Imaging group, contact: imaging@facility.example }
`;

/**
 * The configuration with the circuit breaker out of the way (scheduler.failureLimit 1000), for
 * tests of pools that fail for a long while and only back off. `config` must have
 * TEST_CONFIG's `poll: 2s` line under scheduler.
 */
export function withoutCircuit(config = TEST_CONFIG): string {
  if (!config.includes('\n  poll: 2s\n')) throw new Error('withoutCircuit: the configuration has no scheduler poll: 2s line to add failureLimit after');
  return config.replace('\n  poll: 2s\n', '\n  poll: 2s\n  failureLimit: 1000\n');
}

/**
 * Records every direct message, and can be told to fail: for the moment, like an unreachable
 * platform (`true`), or for good, like a user who removed the app (`'for good'`).
 */
export class RecordingNotifier implements Notifier {
  readonly sent: { to: Recipient; message: Reply; at: number }[] = [];
  failing: boolean | 'for good' = false;

  constructor(private readonly clock: Clock) {}

  async notify(to: Recipient, message: Reply): Promise<void> {
    if (this.failing === 'for good') throw new UndeliverableError('the user removed the app');
    if (this.failing) throw new Error('platform unreachable');
    this.sent.push({ to, message, at: this.clock.now() });
  }

  titles(user?: string): string[] {
    return this.sent.filter((s) => !user || s.to.user === user).map((s) => s.message.title);
  }
}

export interface HarnessOptions {
  config?: string;
  /** A store file to share between harnesses, to test restarts; in memory otherwise. */
  storePath?: string;
  /** A cloud state file to share between harnesses, so servers outlive a restart. */
  cloudPath?: string;
  clock?: ManualClock;
  cloud?: Partial<ConstructorParameters<typeof SimCloud>[0]>;
  provisionFailureRate?: number;
  /** How long personalising a claimed VM takes (0: at once). */
  personaliseMs?: number;
  random?: () => number;
  /** The facility directory the bot asks (the configuration's access.directory names it). */
  directory?: Directory;
}

export interface Harness {
  app: App;
  config: AppConfig;
  clock: ManualClock;
  cloud: SimCloud;
  store: SqliteStore;
  provisioner: SimProvisioner;
  dms: RecordingNotifier;
  /** What /metrics would serve. */
  metrics: PromMetrics;
  /** The simulated activity probe: what each VM is doing. */
  activity: SimActivityProbe;
  /** One reconcile tick, then lets background provisioning settle and the outbox deliver. */
  tick(): Promise<void>;
  /** Ticks every `stepMs` of simulated time for `totalMs`. */
  run(totalMs: number, stepMs?: number): Promise<void>;
  /** Claims a VM of `pool` for `account`, lets its home be set up, and forgets that message. */
  claim(account: string, pool: string): Promise<Reply>;
  /** Sends a chat message as `account` from the `test` platform. */
  say(account: string, text: string): Promise<Reply>;
  /** Same, rendered as the shell would print it. */
  sayText(account: string, text: string): Promise<string>;
  close(): Promise<void>;
}

export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createHarness(options: HarnessOptions = {}): Harness {
  const config = parseConfig(options.config ?? TEST_CONFIG, 'test.yaml', {});
  const clock = options.clock ?? new ManualClock();
  const random = options.random ?? seeded(42);
  if (config.cloud.driver !== 'simulated' || config.provisioner.driver !== 'simulated') throw new Error('the harness runs on the simulated cloud and provisioner');
  const sim = config.cloud.simulated;
  const cloud = new SimCloud({
    clock,
    bootMs: sim.bootTime,
    bootJitter: 0,
    latencyMs: 0,
    quota: sim.quota,
    flavors: sim.flavors,
    images: sim.images,
    random,
    pageSize: 4,
    ...(options.cloudPath ? { statePath: options.cloudPath } : {}),
    ...options.cloud,
  });
  const store = new SqliteStore(options.storePath ?? ':memory:');
  const provisioner = new SimProvisioner({ clock, provisionMs: config.provisioner.simulated.provisionTime, personaliseMs: options.personaliseMs ?? 0, failureRate: options.provisionFailureRate ?? 0, random });
  const metrics = new PromMetrics(() => []);
  // VMs look idle unless a test scripts them (harness.activity.set).
  const activity = new SimActivityProbe({ clock });
  const app = createApp({
    config, store, cloud, provisioner, clock, log: silentLogger, metrics,
    ...(options.directory ? { directory: options.directory } : {}),
    activity: { probe: activity, store: new SqliteActivity(store.db), settings: DEFAULT_ACTIVITY },
    alerts: new SqliteAlerts(store),
  });
  const dms = new RecordingNotifier(clock);
  app.notifier.register('test', dms);
  app.outbox.start();

  const tick = async () => {
    await app.reconciler.tick();
    await new Promise<void>((resolve) => setImmediate(resolve));
    await app.outbox.idle();
  };
  return {
    app,
    config,
    clock,
    cloud,
    store,
    provisioner,
    dms,
    metrics,
    activity,
    tick,
    async run(totalMs, stepMs = 1_000) {
      for (let t = 0; t < totalMs; t += stepMs) {
        await tick();
        await clock.advance(stepMs);
      }
      await tick();
    },
    say: (account, text) => app.dispatch({ platform: 'test', account, conversation: `dm-${account}`, text }),
    async claim(account, pool) {
      const answer = await app.dispatch({ platform: 'test', account, conversation: `dm-${account}`, text: `claim ${pool}` });
      await tick();
      await app.reconciler.idle();
      await app.outbox.idle();
      dms.sent.length = 0;
      return answer;
    },
    async sayText(account, text) {
      return renderText(await app.dispatch({ platform: 'test', account, conversation: `dm-${account}`, text }), { now: clock.now(), timeZone: 'UTC' });
    },
    async close() {
      await app.stop();
      store.close();
    },
  };
}

export function tempDir(prefix = 'daaas-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
