import { COMMANDS } from '../commands/index.ts';
import { Dispatcher } from './chat/dispatcher.ts';
import type { Invocation } from './chat/invocation.ts';
import { adminExtendedMessage, adminReleasedMessage } from './chat/lease-card.ts';
import { NotifierRouter } from './chat/notifier-router.ts';
import type { AppConfig } from './config/load-config.ts';
import { AccessPolicy } from './core/access.ts';
import { AlertDesk } from './core/alert-desk.ts';
import { DEFAULT_ALERT_SETTINGS } from './core/alerts.ts';
import type { Circuit } from './core/circuit.ts';
import type { Principal } from './core/model.ts';
import { DaaasService, type CloudStatus } from './core/service.ts';
import type { ActivityProbe, ActivityStore } from './ports/activity.ts';
import type { AlertStore } from './ports/alerts.ts';
import type { Clock } from './ports/clock.ts';
import type { Cloud } from './ports/cloud.ts';
import type { Directory } from './ports/directory.ts';
import type { Logger } from './ports/logger.ts';
import type { Metrics } from './ports/metrics.ts';
import type { Provisioner } from './ports/provisioner.ts';
import type { Store } from './ports/store.ts';
import { ActivityMonitor, type ActivitySettings } from './scheduler/activity-monitor.ts';
import { AlertDestinations } from './scheduler/alert-destinations.ts';
import { AlertWatch } from './scheduler/alert-watch.ts';
import { OutboxSender } from './scheduler/outbox-sender.ts';
import { Reconciler } from './scheduler/reconciler.ts';
import { TickLoop } from './scheduler/tick-loop.ts';

export interface AppPorts {
  config: AppConfig;
  store: Store;
  cloud: Cloud;
  provisioner: Provisioner;
  clock: Clock;
  log: Logger;
  /** Accounts treated as the local operator (the shell user without --user). */
  localAccounts?: ReadonlySet<string>;
  metrics?: Metrics;
  /** The facility directory (cached), when `access.directory` is configured. */
  directory?: Directory;
  /** Looking at claimed VMs: idle prompts, the grace of busy ones, unsaved work named. None: not looked at. */
  activity?: { probe: ActivityProbe; store: ActivityStore; settings: ActivitySettings };
  /** Where alerts to the operators are kept (the store's alerts tables). None: no alerts. */
  alerts?: AlertStore;
}

export interface App {
  service: DaaasService;
  reconciler: Reconciler;
  dispatcher: Dispatcher;
  notifier: NotifierRouter;
  /** Delivers what the bot says on its own (reminders, notices) from the outbox, outside the tick. */
  outbox: OutboxSender;
  loop: TickLoop;
  /** The activity monitor, when the app was given a probe; it runs from the loop's first tick. */
  activity: ActivityMonitor | undefined;
  dispatch(invocation: Invocation): ReturnType<Dispatcher['dispatch']>;
  /** Who an account is on a platform: what chat adapters show (App Home) must match what commands allow. */
  principalOf(account: string, platform: string): Promise<Principal>;
  access: AccessPolicy;
  /** Called with the account whenever one of its leases is claimed, extended or released. */
  onLeaseChange(listener: (account: string) => void): void;
  stop(): Promise<void>;
}

/**
 * Wires the core to its ports. Knows no environment and no concrete adapter: main.ts hands it
 * real ones, tests hand it a manual clock, an in-memory store and the simulated cloud.
 */
export function createApp(ports: AppPorts): App {
  const { config, store, clock, log } = ports;
  const access = new AccessPolicy({
    rules: config.access,
    pools: config.pools,
    ...(ports.directory ? { directory: ports.directory } : {}),
    ...(config.access.directory ? { contact: config.access.directory.contact } : {}),
  });
  const notifier = new NotifierRouter();
  const outbox = new OutboxSender({ store, notifier, clock, log: log.child({ component: 'outbox' }), ...(ports.metrics ? { metrics: ports.metrics } : {}) });
  let loop: TickLoop | undefined;
  const kick = () => loop?.kick();

  const leaseChanged = (account: string) => {
    setImmediate(kick);
    for (const listener of leaseListeners) listener(account);
  };
  const activity =
    ports.activity &&
    new ActivityMonitor({
      store,
      activity: ports.activity.store,
      probe: ports.activity.probe,
      clock,
      log: log.child({ component: 'activity' }),
      pools: config.pools,
      settings: ports.activity.settings,
      // Someone is waiting for the pool: idle VMs may go back, busy ones get no grace.
      waiting: (pool) => store.queuedCount(pool),
      onMessageQueued: () => outbox.wake(),
      onChange: leaseChanged,
      ...(ports.metrics ? { metrics: ports.metrics } : {}),
    });
  // Alerts to the operators: checked after every tick, said through the outbox (alert-watch.ts).
  const alertDestinations =
    ports.alerts &&
    new AlertDestinations({
      settings: config.alerts,
      admins: config.access.admins,
      localUserIsAdmin: config.access.localUserIsAdmin,
      localAccounts: ports.localAccounts ?? new Set(),
      alerts: ports.alerts,
      platforms: () => notifier.platforms(),
    });
  const alertWatch: AlertWatch | undefined =
    ports.alerts &&
    alertDestinations &&
    new AlertWatch({
      store,
      alerts: ports.alerts,
      pools: config.pools,
      circuit: (pool): Circuit => service.circuit(pool),
      cloud: (): CloudStatus => reconciler.cloudStatus(),
      queuedCount: (pool) => store.queuedCount(pool),
      recipients: () => alertDestinations.recipients(),
      settings: { repeatMs: config.alerts.repeatMs, emptyForMs: config.alerts.emptyForMs, unreachableForMs: DEFAULT_ALERT_SETTINGS.unreachableForMs },
      clock,
      log: log.child({ component: 'alerts' }),
      onMessageQueued: () => outbox.wake(),
    });
  const reconciler = new Reconciler({
    store,
    cloud: ports.cloud,
    provisioner: ports.provisioner,
    clock,
    log: log.child({ component: 'reconciler' }),
    pools: config.pools,
    instance: config.instance,
    settings: { ...config.scheduler, applyConcurrency: 8 },
    onProgress: kick,
    onMessageQueued: () => outbox.wake(),
    // Its own lease changes (expiry, home ready…) reach the listeners once each; the tick needs no kick.
    onLeaseChange: (account) => {
      for (const listener of leaseListeners) listener(account);
    },
    ...(ports.metrics ? { metrics: ports.metrics } : {}),
    // With a directory, claim.yml gets the account's uid, gid, name, e-mail and home from it.
    ...(ports.directory ? { claimAccount: (user: string) => access.claimAccount(user) } : {}),
    ...(activity ? { activity } : {}),
    ...(alertWatch ? { afterTick: () => void alertWatch.check() } : {}),
    // Pools' size schedules: their windows' zone, and the boot time assumed before any was seen.
    schedule: { timeZone: config.scheduler.timeZone, estimateMs: estimateReadyMs(config) },
  });
  const service = new DaaasService({
    store,
    clock,
    pools: config.pools,
    cloudStatus: () => reconciler.cloudStatus(),
    onChange: (account) => {
      setImmediate(kick);
      for (const listener of leaseListeners) listener(account);
    },
    defaultReadyMs: estimateReadyMs(config),
    // The reconciler's sizes: what `pools` explains is what it fills to.
    sizes: reconciler.sizes,
    runLog: (vmName, maxLines) => ports.provisioner.lastLog(vmName, maxLines),
    onMessageQueued: () => outbox.wake(),
    onPoolChange: () => setImmediate(kick),
    ...(config.access.adminMaxLease !== undefined ? { adminMaxLeaseMs: config.access.adminMaxLease } : {}),
    adminMessages: { released: adminReleasedMessage, extended: adminExtendedMessage },
    maxConcurrentBoots: config.scheduler.maxConcurrentBoots,
    ...(ports.metrics ? { waitlistMetrics: ports.metrics } : {}),
    ...(ports.activity ? { activity: ports.activity.store } : {}),
    ...(ports.metrics ? { metrics: () => ports.metrics!.summary() } : {}),
    circuit: config.scheduler.circuit,
    ...(ports.alerts && alertDestinations
      ? { alerts: new AlertDesk({ alerts: ports.alerts, clock, transaction: (fn) => store.transaction(fn), destinations: () => alertDestinations.describe() }) }
      : {}),
  });
  ports.metrics?.watchQueues?.(() => config.pools.map((p) => ({ pool: p.name, length: store.queuedCount(p.name) })));
  if (ports.alerts) {
    const alerts = ports.alerts;
    ports.metrics?.watchAlerts?.(() => alerts.liveAlerts().filter((a) => a.status === 'open').map((a) => ({ kind: a.kind, pool: a.pool })));
  }
  ports.metrics?.watchCircuits?.(() => config.pools.map((p) => ({ pool: p.name, state: service.circuit(p.name).state })));
  const leaseListeners: ((account: string) => void)[] = [];
  const localAccounts = ports.localAccounts ?? new Set<string>();
  // The operator at the bot's own terminal is trusted (admin when so configured, not looked up).
  const principalOf = (account: string, platform: string) =>
    access.principal(account, config.access.localUserIsAdmin && platform === 'shell' && localAccounts.has(account));
  const dispatcher = new Dispatcher({
    commands: COMMANDS,
    service,
    clock,
    log: log.child({ component: 'dispatcher' }),
    principal: (inv) => principalOf(inv.account, inv.platform),
    ...(ports.metrics ? { metrics: ports.metrics } : {}),
  });
  // The outbox is delivered from the loop's first tick on: every chat adapter is registered by then.
  loop = new TickLoop({
    tick: () => {
      outbox.start();
      activity?.start();
      // Messages queued by another process (the operator's `npm run daaas -- admin …`) go out within a tick.
      outbox.wake();
      return reconciler.tick();
    },
    schedule: config.scheduler.schedule,
    now: () => clock.now(),
    log: log.child({ component: 'scheduler' }),
  });

  return {
    service,
    reconciler,
    dispatcher,
    notifier,
    outbox,
    loop,
    activity,
    dispatch: (invocation) => dispatcher.dispatch(invocation),
    principalOf,
    access,
    onLeaseChange: (listener) => void leaseListeners.push(listener),
    async stop() {
      await loop?.stop();
      await activity?.stop();
      await reconciler.stop();
      await outbox.stop();
    },
  };
}

/**
 * Until a pool has been seen filling, assume the configured simulated boot + provisioning
 * time, or a minute for a real cloud's boot.
 */
function estimateReadyMs(config: AppConfig): number {
  const bootMs = config.cloud.driver === 'simulated' ? config.cloud.simulated.bootTime : 60_000;
  const provisionMs = config.provisioner.driver === 'simulated' ? config.provisioner.simulated.provisionTime : 60_000;
  return bootMs + provisionMs + config.scheduler.pollMs;
}
