/**
 * Reads proportional to change: between full walks the tick asks the cloud what changed since the
 * last look (Nova's changes-since) and reads only the leases that are due; a full walk runs every
 * scheduler.resyncEvery, after any error and at start, and catches what the changes missed.
 */
import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import type { Clock } from '../../src/ports/clock.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { CloudObserver } from '../../src/scheduler/cloud-observer.ts';
import { createHarness } from '../helpers/harness.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** The cloud's clock, `behindMs` behind the bot's. */
class SkewedClock implements Clock {
  constructor(
    private readonly inner: ManualClock,
    private readonly behindMs: number,
  ) {}
  now(): number {
    return this.inner.now() - this.behindMs;
  }
  elapsedMs(): number {
    return this.inner.elapsedMs();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.inner.sleep(ms, signal);
  }
}

const calls = (h: ReturnType<typeof createHarness>) => ({ list: h.cloud.calls.list, changes: h.cloud.calls.changes, get: h.cloud.calls.get });

test('the first tick walks the list; then one changes-since request a tick, whatever the fleet; a full walk again every resyncEvery', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.tick();
  t.true(h.cloud.calls.list >= 1, 'a start walks everything');
  t.is(h.cloud.calls.changes, 0);
  await h.run(12_000);
  const before = calls(h);
  await h.clock.advance(1_000);
  await h.tick();
  t.deepEqual(calls(h), { ...before, changes: before.changes + 1 }, 'between walks: one request, no list page, no server asked for');
  await h.clock.advance(10 * MIN);
  await h.tick();
  t.is(h.cloud.calls.list - before.list, Math.ceil(h.cloud.serverCount / 4), 'resyncEvery (10 minutes by default) later: a full walk, every page');
});

test('after an error the next tick walks the whole list', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  h.cloud.failNext('changes');
  await h.clock.advance(1_000);
  await h.tick();
  t.truthy(h.app.reconciler.status.lastError);
  const list = h.cloud.calls.list;
  await h.clock.advance(1_000);
  await h.tick();
  t.is(h.app.reconciler.status.lastError, null);
  t.true(h.cloud.calls.list > list);
});

test('a claimed VM whose server is deleted between two ticks is seen through changes-since: the lease ends and its holder is told', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const vm = h.store.listVms({ states: ['claimed'] })[0]!;
  await h.clock.advance(1_000);
  await h.tick();
  h.cloud.removeServer(vm.serverId!);
  const list = h.cloud.calls.list;
  await h.clock.advance(1_000);
  await h.tick();
  t.is(h.cloud.calls.list, list, 'no full walk was needed');
  t.is(h.store.getVm(vm.id)?.state, 'failed');
  t.deepEqual(h.store.activeLeases({ user: 'alice' }), []);
  t.true(h.dms.sent.some((m) => m.to.user === 'alice' && /stopped working/.test(JSON.stringify(m.message))));
});

test('a change dropped on purpose is missed between walks and caught by the next full walk', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const vm = h.store.listVms({ states: ['claimed'] })[0]!;
  h.cloud.dropChangesOf(vm.serverId!);
  h.cloud.removeServer(vm.serverId!);
  for (let i = 0; i < 5; i++) {
    await h.clock.advance(MIN);
    await h.tick();
  }
  t.is(h.store.getVm(vm.id)?.state, 'claimed', 'the changes never said so');
  await h.clock.advance(5 * MIN);
  await h.tick();
  t.is(h.store.getVm(vm.id)?.state, 'failed', 'the full walk (10 minutes after the last) found the server gone, confirmed by asking for it');
  t.deepEqual(h.store.activeLeases({ user: 'alice' }), []);
});

test('a cloud whose clock is 30 s behind the bot’s: the overlapping window still sees a deletion, a window without overlap would not', async (t) => {
  const clock = new ManualClock();
  const h = createHarness({ clock, cloud: { clock: new SkewedClock(clock, 30_000) } });
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const [a, b] = h.store.listVms({ pool: 'physics', states: ['ready'] });
  // A second observer of the same cloud and store, without the overlap, reading at the same moments.
  const bare = new CloudObserver({ cloud: h.cloud, store: h.store, log: silentLogger, pools: h.config.pools, tag: h.app.reconciler.tag, resyncEveryMs: HOUR, overlapMs: 0 });
  await bare.read(h.config.pools, clock.now());
  await h.tick();
  await clock.advance(10_000);
  h.cloud.removeServer(a!.serverId!);
  h.cloud.breakServer(b!.serverId!);
  const seen = await bare.read(h.config.pools, clock.now());
  t.false(seen.full);
  t.deepEqual(
    seen.servers.filter((s) => s.id === a!.serverId || s.id === b!.serverId).map((s) => s.status),
    ['ACTIVE', 'ACTIVE'],
    'changed 20 s before the last read by the cloud’s clock: missed, the servers as last known',
  );
  await h.tick();
  t.is(h.store.getVm(a!.id)?.state, 'failed');
  t.is(h.store.getVm(b!.id)?.state, 'failed');
});

test('a tick reads only the leases that are due: none after the first, one at each reminder stage and at expiry; an extension and a restart make them due', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  await h.claim('bob', 'physics');
  t.deepEqual(h.store.dueLeases(h.clock.now()), [], 'read once after the claim, then scheduled');
  const [lease] = h.store.activeLeases({ user: 'alice' });
  t.is(h.store.nextLeaseDueAfter(h.clock.now()), lease!.expiresAt - 24 * HOUR);
  const extension = await h.say('alice', `extend ${lease!.vm.name}`);
  t.is(extension.tone, 'success', extension.title);
  t.is(h.store.dueLeases(h.clock.now()).length, 1, 'an extension makes the lease due at once (its stages moved)');
  await h.tick();
  t.deepEqual(h.store.dueLeases(h.clock.now()), []);
  const extended = h.store.activeLeases({ user: 'alice' })[0]!;
  t.is(h.store.nextLeaseDueAfter(h.clock.now()), lease!.expiresAt - 24 * HOUR, 'bob’s lease is next');
  await h.clock.advance(lease!.expiresAt - 24 * HOUR - h.clock.now());
  t.is(h.store.dueLeases(h.clock.now()).length, 1, 'bob’s first reminder falls due');
  await h.tick();
  t.true(h.dms.sent.some((m) => m.to.user === 'bob'));
  t.deepEqual(h.store.dueLeases(h.clock.now()), []);
  t.is(h.store.leasesDueNow(), 2, 'a start makes every active lease due');
  await h.tick();
  t.deepEqual(h.store.dueLeases(h.clock.now()), []);
  await h.clock.advance(extended.expiresAt - h.clock.now());
  await h.tick();
  t.deepEqual(h.store.activeLeases(), [], 'both expired, each read when due');
});
