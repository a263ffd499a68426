import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { SqliteAlerts } from '../../src/adapters/sqlite/alerts.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { DEFAULT_ALERT_SETTINGS } from '../../src/core/alerts.ts';
import type { Circuit } from '../../src/core/circuit.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { CloudStatus } from '../../src/core/service.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import type { Recipient } from '../../src/ports/notifier.ts';
import { AlertWatch } from '../../src/scheduler/alert-watch.ts';
import { TEST_CONFIG } from '../helpers/harness.ts';

const M = 60_000;
const H = 60 * M;
const POOLS = parseConfig(TEST_CONFIG, 'test.yaml', {}).pools;
const TO: Recipient[] = [
  { platform: 'slack', user: '#alerts', conversation: 'C0ALERTS' },
  { platform: 'test', user: 'root', conversation: '' },
];

function world(path = ':memory:', clock = new ManualClock()) {
  const store = new SqliteStore(path);
  const alerts = new SqliteAlerts(store);
  const cloud: { status: CloudStatus } = { status: { lastObservedAt: clock.now(), lastError: null, notes: new Map() } };
  const circuits = new Map<string, Circuit>();
  const waiting = new Map<string, number>();
  let queued = 0;
  const watch = new AlertWatch({
    store,
    alerts,
    pools: POOLS,
    circuit: (pool) => circuits.get(pool) ?? { state: 'closed' },
    cloud: () => cloud.status,
    queuedCount: (pool) => waiting.get(pool) ?? 0,
    recipients: () => TO,
    settings: DEFAULT_ALERT_SETTINGS,
    clock,
    log: silentLogger,
    onMessageQueued: () => queued++,
  });
  /** Keeps a ready VM in every pool, so that only what a test sets up is wrong. */
  for (const pool of POOLS) {
    const vm = store.createVm({ pool: pool.name, image: pool.image, flavor: pool.flavor, createdAt: clock.now() });
    store.updateVm(vm.id, { state: 'ready', serverId: `s-${vm.id}` }, clock.now());
  }
  const titles = () => store.outboxMessages().filter((m) => m.kind === 'alert').map((m) => `${m.to.platform}:${m.to.user} ${m.body.title}`);
  return { store, alerts, cloud, circuits, waiting, watch, clock, titles, queued: () => queued };
}

test('a circuit opening is raised once to every destination, repeated hourly while open, then resolved with how long it lasted', async (t) => {
  const w = world();
  t.deepEqual(w.watch.check(), [], 'all well: nothing');
  w.circuits.set('physics', { state: 'open', failures: 3, lastError: 'boot: Image physics-base could not be found.', retryAt: w.clock.now() + 30 * M });
  w.watch.check();
  t.deepEqual(w.titles(), ['slack:#alerts ALERT: pool failing (circuit open): physics', 'test:root ALERT: pool failing (circuit open): physics']);
  t.is(w.queued(), 1, 'the outbox sender was woken once');
  await w.clock.advance(59 * M);
  w.watch.check();
  t.is(w.titles().length, 2, 'not said again within the hour');
  await w.clock.advance(M);
  w.watch.check();
  t.deepEqual(w.titles().slice(2), ['slack:#alerts Still open: pool failing (circuit open): physics', 'test:root Still open: pool failing (circuit open): physics']);
  await w.clock.advance(20 * M);
  w.circuits.delete('physics');
  w.watch.check();
  t.deepEqual(w.titles().slice(4), ['slack:#alerts Resolved: pool failing (circuit open): physics', 'test:root Resolved: pool failing (circuit open): physics']);
  const resolved = w.store.outboxMessages().at(-1)!.body;
  t.deepEqual(resolved.blocks[0], { type: 'text', text: 'It lasted 1h 20m.' });
  t.deepEqual(w.alerts.liveAlerts(), []);
  t.like(w.alerts.resolvedAlerts(5)[0], { kind: 'circuit-open', pool: 'physics', sent: 2, status: 'resolved' });
  const detail = String(w.alerts.resolvedAlerts(5)[0]!.detail);
  t.regex(detail, /physics stopped booting after 3 boots or provisioning runs failed in a row; the last: boot: Image physics-base could not be found\./);
  t.regex(detail, /admin resume physics closes it now\. Image maintained by Physics software \(physics@facility\.example\)/);
});

test('an open alert survives a restart: not raised again, resolved by the next bot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'daaas-alerts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new ManualClock();
  const first = world(join(dir, 'store.db'), clock);
  first.cloud.status = { lastObservedAt: clock.now(), lastError: 'connect ETIMEDOUT', notes: new Map() };
  first.watch.check();
  t.deepEqual(first.titles(), [], 'not after one failed look');
  await clock.advance(3 * M);
  first.watch.check();
  t.is(first.titles().filter((x) => x.includes('ALERT: cloud unreachable')).length, 2);
  first.store.close();

  const second = world(join(dir, 'store.db'), clock);
  second.cloud.status = { lastObservedAt: null, lastError: 'connect ETIMEDOUT', notes: new Map() };
  await clock.advance(10 * M);
  second.watch.check();
  t.is(second.titles().length, 2, 'the restarted bot does not raise it again');
  second.cloud.status = { lastObservedAt: clock.now(), lastError: null, notes: new Map() };
  second.watch.check();
  t.deepEqual(second.titles().slice(2), ['slack:#alerts Resolved: cloud unreachable', 'test:root Resolved: cloud unreachable']);
  t.deepEqual(second.store.outboxMessages().at(-1)!.body.blocks[0], { type: 'text', text: 'It lasted 13m.' }, 'counted from the last answer before the first bot saw it fail');
});

test('a pool empty for 5 minutes is an alert only when someone was refused a VM meanwhile', async (t) => {
  const w = world();
  const ready = w.store.listVms({ pool: 'imaging', states: ['ready'] })[0]!;
  w.store.updateVm(ready.id, { state: 'releasing' }, w.clock.now());
  w.watch.check();
  await w.clock.advance(10 * M);
  w.watch.check();
  t.deepEqual(w.titles(), [], 'empty, but nobody asked');
  w.store.audit({ at: w.clock.now(), actor: 'dave', action: 'claim', target: 'imaging', result: 'POOL_EMPTY' });
  w.store.audit({ at: w.clock.now(), actor: 'dave', action: 'claim', target: 'physics', result: 'LEASE_LIMIT' });
  w.watch.check();
  t.deepEqual(w.titles(), ['slack:#alerts ALERT: pool empty: imaging', 'test:root ALERT: pool empty: imaging']);
  t.regex(w.alerts.liveAlerts()[0]!.detail, /No VM is ready in imaging \(0 on the way\) and users asked for one/);
});

test('a pool empty briefly is forgotten without a word; drained pools are never "empty"', async (t) => {
  const w = world();
  const ready = w.store.listVms({ pool: 'imaging', states: ['ready'] })[0]!;
  w.store.updateVm(ready.id, { state: 'claimed' }, w.clock.now());
  w.store.audit({ at: w.clock.now(), actor: 'dave', action: 'claim', target: 'imaging', result: 'POOL_EMPTY' });
  w.watch.check();
  t.is(w.alerts.liveAlerts()[0]?.status, 'pending');
  const vm = w.store.createVm({ pool: 'imaging', image: 'imaging-gpu', flavor: 'g1.gpu', createdAt: w.clock.now() });
  w.store.updateVm(vm.id, { state: 'ready' }, w.clock.now());
  await w.clock.advance(2 * M);
  w.watch.check();
  t.deepEqual(w.alerts.liveAlerts(), []);
  w.store.savePoolControl({ ...w.store.poolControl('imaging'), drained: { reason: 'rebuild', by: 'root', at: w.clock.now() } });
  w.store.updateVm(vm.id, { state: 'releasing' }, w.clock.now());
  w.store.audit({ at: w.clock.now(), actor: 'dave', action: 'claim', target: 'imaging', result: 'POOL_EMPTY' });
  await w.clock.advance(10 * M);
  w.watch.check();
  w.watch.check();
  t.deepEqual(w.titles(), []);
});

test('quota, a missing image and one user failing set-up again and again are each an alert', (t) => {
  const w = world();
  w.cloud.status = { lastObservedAt: w.clock.now(), lastError: null, notes: new Map([['physics', 'cloud quota exhausted (0 instances, 4 cores were free)']]) };
  w.store.savePoolHealth({ pool: 'imaging', lastError: 'boot: Image imaging-gpu could not be found.', lastErrorAt: w.clock.now(), consecutiveFailures: 1, backoffUntil: null });
  w.store.saveUserSetupFailures({ user: 'bob', failures: 2, lastError: 'home: quota exceeded', lastFailedAt: w.clock.now(), retryAt: w.clock.now() });
  w.watch.check();
  t.deepEqual(w.titles().filter((x) => x.startsWith('test:')), ['test:root ALERT: quota stopping boots: physics', 'test:root ALERT: image missing: imaging']);
  w.store.saveUserSetupFailures({ user: 'bob', failures: 3, lastError: 'home: quota exceeded', lastFailedAt: w.clock.now(), retryAt: w.clock.now() });
  w.watch.check();
  t.deepEqual(w.titles().filter((x) => x.startsWith('test:')).slice(2), ['test:root ALERT: set-up failing for a user: bob']);
  t.regex(w.alerts.liveAlerts().find((a) => a.kind === 'image-missing')!.detail, /The image of imaging \(imaging-gpu\) is missing from the cloud.*Ask Imaging group \(imaging@facility\.example\)/);
  w.store.clearUserSetupFailures('bob');
  w.watch.check();
  t.deepEqual(w.titles().filter((x) => x.startsWith('test:')).slice(3), ['test:root Resolved: set-up failing for a user: bob']);
});

test('more than half of a pool’s VMs with leases ending within the hour is an alert', async (t) => {
  const w = world();
  const claim = (user: string) => {
    const vm = w.store.createVm({ pool: 'physics', image: 'physics-base', flavor: 'm1.large', createdAt: w.clock.now() });
    w.store.updateVm(vm.id, { state: 'ready' }, w.clock.now());
    t.true(w.store.claim({ pool: 'physics', user, platform: 'test', conversation: user, now: w.clock.now(), leaseMs: 2 * H, maxLeasesPerUser: 5 }).ok);
  };
  claim('alice');
  claim('bob');
  await w.clock.advance(30 * M);
  claim('carol');
  // physics: 4 VMs, one ready and three claimed for 2 h (two from 09:00, one from 09:30).
  await w.clock.advance(31 * M);
  w.watch.check();
  t.deepEqual(w.titles(), [], 'two of four leases end within the hour: half, not more');
  await w.clock.advance(30 * M);
  w.watch.check();
  t.deepEqual(w.titles().filter((x) => x.startsWith('test:')), ['test:root ALERT: leases expiring in bulk: physics']);
  t.regex(w.alerts.liveAlerts()[0]!.detail, /^3 of the 4 VMs of physics have leases ending within the hour/);
  await w.clock.advance(30 * M);
  w.watch.check();
  t.deepEqual(w.titles().filter((x) => x.startsWith('test:')).slice(1), ['test:root Resolved: leases expiring in bulk: physics'], 'the first two ended: one left to end');
});

test('users waiting in a pool’s queue count as asking: its emptiness is an alert after 5 minutes without any refusal', async (t) => {
  const w = world();
  const ready = w.store.listVms({ pool: 'imaging', states: ['ready'] })[0]!;
  w.store.updateVm(ready.id, { state: 'claimed' }, w.clock.now());
  w.waiting.set('imaging', 2);
  w.watch.check();
  await w.clock.advance(4 * M);
  w.watch.check();
  t.deepEqual(w.titles(), []);
  await w.clock.advance(M);
  w.watch.check();
  t.deepEqual(w.titles(), ['slack:#alerts ALERT: pool empty: imaging', 'test:root ALERT: pool empty: imaging']);
  t.regex(w.alerts.liveAlerts()[0]!.detail, /^No VM is ready in imaging \(0 on the way; 2 waiting for one\)/);
});
