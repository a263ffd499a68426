import test from 'ava';
import { join } from 'node:path';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { META } from '../../src/core/plan-pools.ts';
import { createHarness, tempDir, TEST_CONFIG, withoutCircuit, type Harness } from '../helpers/harness.ts';
import { assertConsistent, assertFull } from '../helpers/invariants.ts';

const HOUR = 3_600_000;
const MIN = 60_000;

test('pools fill to their size after start, a claim is instant, and the pool refills', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  t.is(h.store.listVms().length, 0);
  await h.run(12_000);
  assertFull(t, h);
  await assertConsistent(t, h);

  const reply = await h.say('alice', 'claim physics');
  t.is(reply.tone, 'success');
  t.is(h.store.listVms({ pool: 'physics', states: ['ready'] }).length, 2, 'the claimed VM left the pool at once');
  await h.run(12_000);
  assertFull(t, h);
  t.is(h.store.listVms({ pool: 'physics', states: ['claimed'] }).length, 1);
});

test('a tick asks the cloud what changed with one request; a full walk lists every page, however many VMs there are', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const pages = Math.ceil(h.cloud.serverCount / 4); // the harness pages by 4
  h.cloud.calls.list = 0;
  h.cloud.calls.changes = 0;
  await h.tick();
  t.deepEqual([h.cloud.calls.list, h.cloud.calls.changes], [0, 1]);
  h.app.reconciler.resync();
  await h.tick();
  t.is(h.cloud.calls.list, pages);
  t.is(h.cloud.calls.create + h.cloud.calls.delete, 4, 'only the calls that filled the pools (3 + 1)');
});

test('at steady state a tick reads no limits: quotas are read only when a pool needs a boot', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  h.cloud.calls.limits = 0;
  await h.tick();
  t.is(h.cloud.calls.limits, 0);
  await h.say('alice', 'claim physics');
  await h.tick();
  t.is(h.cloud.calls.limits, 1, 'a pool is short after the claim');
});

test('a rebuilt image replaces the warm VMs, while the pool keeps serving', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const old = new Set(h.store.listVms({ pool: 'physics', states: ['ready'] }).map((vm) => vm.id));
  const rebuilt = h.cloud.publishImage('physics-base');
  // Images are looked up again at each full walk (every scheduler.resyncEvery): one now.
  h.app.reconciler.resync();
  for (let i = 0; i < 30; i++) {
    await h.run(1_000, 1_000);
    t.true(h.store.listVms({ pool: 'physics', states: ['ready'] }).length >= 3, 'never fewer ready VMs than the pool size');
  }
  const ready = h.store.listVms({ pool: 'physics', states: ['ready'] });
  t.is(ready.length, 3);
  t.false(ready.some((vm) => old.has(vm.id)));
  const servers = await h.cloud.listServers(h.app.reconciler.tag);
  t.true(ready.every((vm) => servers.find((s) => s.metadata[META.vm] === vm.id)?.image === rebuilt));
  await assertConsistent(t, h);
});

test('a server left out of one list is asked for before its VM is called lost', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const [claimed] = h.store.listVms({ states: ['claimed'] });
  h.cloud.hideFromNextList(claimed!.serverId!);
  h.app.reconciler.resync(); // the list is walked at full walks
  h.cloud.calls.get = 0;
  await h.tick();
  t.is(h.cloud.calls.get, 1);
  t.is(h.store.getVm(claimed!.id)?.state, 'claimed', 'the lease is intact');
  t.deepEqual(h.dms.sent, []);
  // Really gone: the VM is lost and its user told.
  h.cloud.removeServer(claimed!.serverId!);
  await h.tick();
  t.is(h.store.getVm(claimed!.id)?.state, 'failed');
});

test('boots never exceed the pool maximum nor the global concurrency limit', async (t) => {
  const config = TEST_CONFIG.replace('maxConcurrentBoots: 50', 'maxConcurrentBoots: 2');
  const h = createHarness({ config });
  t.teardown(() => h.close());
  await h.tick();
  t.is(h.store.listVms().length, 2);
  await h.run(60_000);
  assertFull(t, h);
  // Claim everything repeatedly: the pool tops out at max, counting claimed VMs.
  for (const user of ['alice', 'bob', 'carol']) await h.say(user, 'claim physics');
  await h.run(30_000);
  t.is(h.store.listVms({ pool: 'physics' }).length, 6, 'max 6 = 3 claimed + 3 ready');
  t.is(h.cloud.serverCount, 7, 'physics 6 + imaging 1');
});

test('a pool at its maximum says so to admins and to users who find it empty', async (t) => {
  const config = TEST_CONFIG.replace('size: 1\n    max: 2', 'size: 1\n    max: 1');
  const h = createHarness({ config });
  t.teardown(() => h.close());
  await h.run(12_000);
  t.is((await h.say('dave', 'claim imaging')).tone, 'success');
  await h.run(12_000);
  const empty = await h.say('root', 'claim imaging');
  t.regex(empty.title, /refilling/);
  t.regex(empty.title, /maximum of 1/);
  t.regex(await h.sayText('root', 'admin pools'), /at its maximum of 1 VMs/);
});

test('failed boots are replaced with back-off, never handed out, and nothing leaks', async (t) => {
  const h = createHarness({ config: withoutCircuit(), cloud: { bootFailureRate: 1 } });
  t.teardown(() => h.close());
  await h.run(10_000);
  t.true(h.store.listVms({ states: ['failed'] }).length > 0);
  t.is(h.store.listVms({ states: ['ready'] }).length, 0);
  const refused = await h.say('alice', 'claim physics');
  t.regex(refused.title, /No VM is ready/);
  const health = h.store.poolHealth('physics');
  t.true(health.consecutiveFailures >= 1);
  t.regex(health.lastError ?? '', /No valid host/);
  t.truthy(health.backoffUntil);

  // Back-off: while it lasts, no new boots for the pool.
  const created = h.cloud.calls.create;
  await h.run(10_000);
  t.is(h.cloud.calls.create, created, 'no boots during back-off');

  // The cloud heals: after back-off and retention the pool converges with nothing left over.
  (h.cloud as unknown as { options: { bootFailureRate: number } }).options.bootFailureRate = 0;
  await h.run(10 * MIN, 5_000);
  assertFull(t, h);
  t.is(h.store.listVms({ states: ['failed'] }).length, 0, 'failed VMs are deleted after retention');
  await assertConsistent(t, h);
  t.is(h.store.poolHealth('physics').consecutiveFailures, 0);
});

test('provisioning that fails or overruns the readiness timeout marks the VM failed and replaces it', async (t) => {
  const failing = createHarness({ provisionFailureRate: 1 });
  t.teardown(() => failing.close());
  await failing.run(15_000);
  const failed = failing.store.listVms({ states: ['failed'] });
  t.true(failed.length > 0);
  t.regex(failed[0]!.detail ?? '', /provisioning failed/);
  t.is(failing.store.listVms({ states: ['ready'] }).length, 0);

  const slow = TEST_CONFIG.replace('provisionTime: 4s', 'provisionTime: 20m');
  const h = createHarness({ config: slow });
  t.teardown(() => h.close());
  await h.run(11 * MIN, 30_000);
  const timedOut = h.store.listVms({ states: ['failed', 'deleted'] }).filter((vm) => /not ready 600 s/.test(vm.detail ?? ''));
  t.true(timedOut.length >= 4, `${timedOut.length} VMs timed out`);
  t.is(h.store.listVms({ states: ['ready'] }).length, 0);
});

test('cloud API errors do not stop the loop, and the pools converge once the cloud answers', async (t) => {
  const h = createHarness({ cloud: { apiFailureRate: 0.3 } });
  t.teardown(() => h.close());
  await h.run(2 * MIN, 1_000);
  (h.cloud as unknown as { options: { apiFailureRate: number } }).options.apiFailureRate = 0;
  await h.run(10 * MIN, 5_000);
  assertFull(t, h);
  await assertConsistent(t, h);
});

test('a cloud outage: claims from warm VMs still work, leases still expire, and after recovery nothing leaks', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  t.is((await h.say('alice', 'claim physics')).tone, 'success');
  h.cloud.setOutage(true);
  t.is((await h.say('bob', 'claim physics')).tone, 'success', 'the warm pool serves claims without the cloud');
  await h.run(HOUR, MIN);
  t.regex(h.app.reconciler.status.lastError ?? '', /did not answer/);
  t.regex(await h.sayText('root', 'admin pools'), /Cloud: NOT answering/);
  t.is((await h.say('carol', 'claim physics')).tone, 'success');
  const empty = await h.say('root', 'claim physics');
  t.regex(empty.title, /cloud is not answering/);
  await h.clock.advance(48 * HOUR);
  await h.tick();
  t.is(h.store.activeLeases().length, 0, 'leases expire even while the cloud is down');
  t.is(h.dms.titles('alice').filter((m) => /torn down/.test(m)).length, 1);
  h.cloud.setOutage(false);
  await h.run(10 * MIN, 5_000);
  assertFull(t, h);
  await assertConsistent(t, h);
});

test('after a crash: a lost creation is dropped, an unrecorded server adopted, an unknown server deleted', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const now = h.clock.now();
  // A record whose creation never reached the cloud (crash between insert and create).
  const lost = h.store.createVm({ pool: 'physics', image: 'physics-base', flavor: 'm1.large', createdAt: now });
  // A record whose server exists but whose id was never written back.
  const unrecorded = h.store.createVm({ pool: 'physics', image: 'physics-base', flavor: 'm1.large', createdAt: now });
  const server = h.cloud.inject({ name: unrecorded.name, image: 'physics-base', flavor: 'm1.large', networks: [], metadata: { [META.vm]: unrecorded.id }, tags: [h.app.reconciler.tag] });
  // A server of ours the store has never heard of.
  const orphan = h.cloud.inject({ name: 'physics-zzzz', image: 'physics-base', flavor: 'm1.large', networks: [], metadata: { [META.vm]: 'no-such-vm' }, tags: [h.app.reconciler.tag] });
  // Someone else's server in the same project is left alone.
  const foreign = h.cloud.inject({ name: 'not-ours', image: 'physics-base', flavor: 'm1.large', networks: [], metadata: {}, tags: [] });

  await h.tick();
  t.is(h.store.getVm(lost.id)?.state, 'deleted');
  t.is(h.store.getVm(unrecorded.id)?.serverId, server.id);
  t.false((await h.cloud.listServers(h.app.reconciler.tag)).some((s) => s.id === orphan.id));
  t.truthy(h.store.auditLog().find((e) => e.action === 'delete-orphan' && e.target === orphan.id));
  await h.run(MIN, 2_000);
  await assertConsistent(t, h);
  assertFull(t, h);
  t.is(h.cloud.serverCount, 4 + 1, 'the pools and the foreign server: the spare adopted VM was retired');
  t.truthy(h.store.getVm(unrecorded.id)?.readyAt, 'the adopted VM was provisioned like any other');
  t.truthy(foreign.id);
});

test('a claimed VM that dies is reported to its user and its lease ends', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const [lease] = h.store.activeLeases({ user: 'alice' });
  h.cloud.breakServer(lease!.vm.serverId!, 'Hypervisor lost power');
  await h.tick();
  t.is(h.store.activeLeases({ user: 'alice' }).length, 0);
  t.is(h.store.getLease(lease!.id)?.endReason, 'vm-lost');
  t.is(h.store.getVm(lease!.vmId)?.state, 'failed');
  const [message] = h.dms.sent;
  t.is(message?.to.user, 'alice');
  t.regex(JSON.stringify(message?.message), /Hypervisor lost power/);
  await h.run(10 * MIN, 10_000);
  await assertConsistent(t, h);
  assertFull(t, h);
});

test('the cloud quota stops boots and admins are told why', async (t) => {
  const h = createHarness({ cloud: { quota: { instances: 2, cores: 1000 } } });
  t.teardown(() => h.close());
  await h.run(12_000);
  t.is(h.cloud.serverCount, 2);
  t.regex(await h.sayText('root', 'admin pools'), /quota exhausted/);
});

test('reminders at each offset exactly once, then teardown at expiry and the user is told', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm;
  await h.run(48 * HOUR + 2 * MIN, MIN);
  const titles = h.dms.titles('alice');
  t.deepEqual(titles, [`${vm.name} will be torn down in 1d`, `${vm.name} will be torn down in 1h`, `${vm.name} will be torn down in 10m`, `${vm.name} has been torn down`]);
  t.is(h.store.getVm(vm.id)?.state, 'deleted');
  t.truthy(h.store.auditLog().find((e) => e.action === 'teardown' && e.target === vm.name && e.detail?.reason === 'expired'));
  await assertConsistent(t, h);
});

test('an extension moves expiry and re-arms the reminders', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  await h.run(24 * HOUR + MIN, 10 * MIN);
  t.is(h.dms.sent.length, 1, 'the 24 h reminder');
  await h.say('alice', 'extend');
  await h.run(24 * HOUR, 10 * MIN);
  t.is(h.dms.sent.length, 2, 'the 24 h reminder again, for the new expiry');
  t.is(h.store.activeLeases().length, 1);
  await h.run(24 * HOUR + 10 * MIN, 5 * MIN);
  t.deepEqual(h.dms.titles().map((x) => x.replace(/^\S+ /, '')), ['will be torn down in 1d', 'will be torn down in 1d', 'will be torn down in 1h', 'will be torn down in 10m', 'has been torn down']);
});

test('a bot that was down across several stages sends only the most urgent one', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  await h.clock.advance(47 * HOUR + 55 * MIN);
  await h.tick();
  await h.tick();
  t.deepEqual(h.dms.titles().map((x) => x.replace(/^\S+ /, '')), ['will be torn down in 5m']);
  const lease = h.store.activeLeases()[0]!;
  t.deepEqual(
    h.store.activeReminders().map((r) => [r.beforeMs, r.status]).sort(),
    [[10 * MIN, 'queued'], [24 * HOUR, 'superseded'], [HOUR, 'superseded']].sort(),
  );
  t.deepEqual(reminders(h).map((m) => [m.key, m.status]), [[`reminder:${lease.id}:${10 * MIN}:${lease.expiresAt}`, 'sent']]);
  t.is(lease.user, 'alice');
});

/** The reminders in the outbox, oldest first. */
const reminders = (h: Harness) => h.store.outboxMessages().filter((m) => m.kind === 'reminder');

test('a reminder the platform refuses for good is recorded as failed and never tried again', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  h.dms.failing = 'for good';
  await h.run(25 * HOUR, 30 * MIN);
  h.dms.failing = false;
  await h.run(HOUR, 10 * MIN);
  t.deepEqual(h.store.activeReminders().map((r) => r.status), ['queued']);
  t.deepEqual(reminders(h).map((m) => [m.kind, m.status, m.attempts]), [['reminder', 'failed', 1]]);
  t.deepEqual(h.dms.titles('alice'), []);
});

test('a reminder the platform cannot take for the moment is sent once when it can, not tried every tick; one still undelivered at the next stage is superseded', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  await h.claim('alice', 'physics');
  const lease = h.store.activeLeases()[0]!;
  h.dms.failing = true;
  await h.run(24 * HOUR + 10 * MIN, MIN);
  const [waiting] = reminders(h);
  t.is(waiting?.status, 'pending');
  t.true(waiting!.attempts >= 3 && waiting!.attempts < 10, `backed off: ${waiting!.attempts} attempts in 10 minutes of ticks every minute`);
  h.dms.failing = false;
  await h.run(20 * MIN, MIN);
  t.deepEqual(h.dms.titles(), [`${lease.vm.name} will be torn down in 1d`], 'delivered once, when the platform took it');
  t.is(reminders(h)[0]?.status, 'sent');

  // The platform is down from before the 1 h stage to after the 10 min one: the older waits, then gives way.
  h.dms.failing = true;
  await h.run(23 * HOUR + 25 * MIN, 5 * MIN);
  h.dms.failing = false;
  await h.run(10 * MIN, MIN);
  t.deepEqual(reminders(h).map((m) => [m.key.split(':')[2], m.status]), [[`${24 * HOUR}`, 'sent'], [`${HOUR}`, 'superseded'], [`${10 * MIN}`, 'sent']]);
  const told = h.dms.titles().filter((x) => x.includes('will be torn down in'));
  t.is(told.length, 2, 'the 1 day one and the most urgent one');
  t.false(told.some((x) => x.endsWith(' 1h')), 'never "1 hour left" after the 10 minute stage');
});

test('reminders survive a restart: none repeated, none that is still due skipped', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const clock = new ManualClock();
  const paths = { storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'cloud.json'), clock };
  const first = createHarness(paths);
  await first.run(12_000);
  await first.claim('alice', 'physics');
  await first.run(24 * HOUR + 5 * MIN, 5 * MIN); // the 24 h reminder goes out
  t.is(first.dms.sent.length, 1);
  await first.close();

  await clock.advance(23 * HOUR); // down across the 1 h stage
  const second = createHarness(paths);
  t.teardown(() => second.close());
  await second.tick();
  await second.tick();
  t.deepEqual(second.dms.titles().map((x) => x.replace(/^\S+ /, '')), ['will be torn down in 55m'], 'the 1 h stage, once; the 24 h one not again');
  await second.run(HOUR, 5 * MIN);
  t.deepEqual(second.dms.titles().map((x) => x.replace(/^\S+ /, '')), ['will be torn down in 55m', 'will be torn down in 10m', 'has been torn down']);
  await assertConsistent(t, second);
});

test('pools and leases outlive a restart, as a real cloud keeps its servers', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const clock = new ManualClock();
  const paths = { storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'cloud.json'), clock };
  const first = createHarness(paths);
  await first.run(12_000);
  await first.say('alice', 'claim physics');
  await first.run(12_000);
  await first.close();
  const second = createHarness(paths);
  t.teardown(() => second.close());
  await second.tick();
  assertFull(t, second);
  t.is(second.store.activeLeases({ user: 'alice' }).length, 1);
  t.is(second.cloud.calls.create, 0, 'nothing booted again');
  await assertConsistent(t, second);
});

test('provisioning interrupted by a stop is run again by the next start', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const clock = new ManualClock();
  const paths = { storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'cloud.json'), clock };
  const first = createHarness(paths);
  await first.run(6_000); // booted, provisioning under way
  t.true(first.store.listVms({ states: ['provisioning'] }).length > 0);
  await first.close();
  const second = createHarness(paths);
  t.teardown(() => second.close());
  await second.run(10_000);
  assertFull(t, second);
  t.is(second.store.listVms({ states: ['failed'] }).length, 0);
});

// ---- personalising a claimed VM -------------------------------------------------------------

test('a claim hands the VM over at once; the home directory follows, and the user is told when it is ready', async (t) => {
  const h = createHarness({ personaliseMs: 3_000 });
  t.teardown(() => h.close());
  await h.run(12_000);
  const claim = await h.sayText('alice', 'claim physics');
  t.regex(claim, /is yours for 2d/);
  t.regex(claim, /Home directory:\s+being set up…/);
  await h.tick();
  await h.clock.advance(3_000);
  await h.app.reconciler.idle();
  const [lease] = h.store.activeLeases({ user: 'alice' });
  t.is(lease?.homeReadyAt, h.clock.now());
  t.deepEqual(h.dms.titles('alice'), [`${lease!.vm.name} is ready for you`]);
  t.regex(await h.sayText('alice', 'status'), /Home directory:\s+ready/);
  // A second claim by the same account finds the home already there.
  await h.say('alice', `release ${lease!.vm.name} --yes`);
  await h.run(12_000);
  await h.say('alice', 'claim physics');
  await h.tick();
  await h.clock.advance(3_000);
  await h.app.reconciler.idle();
  t.regex(JSON.stringify(h.dms.sent.at(-1)?.message), /is in place/);
});

test('personalising fails: the lease ends, the VM is never handed out again, and the user has their claim back', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  h.provisioner.failPersonalise = 'claim.yml: task "Create the home directory" failed on physics-x: Permission denied';
  await h.say('alice', 'claim physics');
  await h.tick();
  await h.app.reconciler.idle();
  const [lease] = h.store.auditLog({}).filter((a) => a.action === 'teardown');
  t.like(lease, { target: lease!.target, detail: { user: 'alice', reason: 'setup-failed' } });
  const vm = h.store.findVmByName(lease!.target)!;
  t.is(vm.state, 'failed');
  t.regex(vm.detail ?? '', /setting it up for alice failed: claim\.yml: task "Create the home directory" failed/);
  t.deepEqual(h.dms.titles('alice'), [`${vm.name} could not be set up for you`]);
  t.deepEqual(h.store.activeLeases({ user: 'alice' }), []);
  h.provisioner.failPersonalise = null;
  t.is((await h.say('alice', 'claim physics')).tone, 'success', 'the claim is back');
  await h.run(10 * MIN, 10_000);
  t.is(h.store.getVm(vm.id)?.state, 'deleted');
  await assertConsistent(t, h);
});

test('personalising fails for a reason tied to the user: an untouched VM goes back to the pool, and their claims back off', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const readyBefore = h.store.listVms({ states: ['ready'] }).map((vm) => vm.name).sort();
  h.provisioner.accountFailures.set('alice', { reason: 'the account alice exists on this VM with uid 1001, but the facility directory gives it uid 5001', vmChanged: false });
  for (let attempt = 0; attempt < 3; attempt++) {
    const answer = await h.say('alice', 'claim physics');
    if (attempt > 0) {
      t.is(answer.tone, 'error', 'the next claim backs off');
      t.regex(JSON.stringify(answer), /Setting up a VM for you failed just now \(the account alice exists on this VM with uid 1001[^)]*\), so the bot waits before trying again: in 30s/);
      t.regex(JSON.stringify(answer), /This is about your account, not the pool: ask Physics/);
      break;
    }
    await h.tick();
    await h.app.reconciler.idle();
  }
  t.deepEqual(h.store.listVms({ states: ['ready'] }).map((vm) => vm.name).sort(), readyBefore, 'the VM went back to the pool: none burned');
  t.deepEqual(h.store.listVms({ states: ['failed'] }), []);
  t.deepEqual(h.store.activeLeases({ user: 'alice' }), []);
  const told = h.dms.sent.filter((m) => m.to.user === 'alice').map((m) => JSON.stringify(m.message));
  t.is(told.length, 1);
  t.regex(told[0]!, /This is about your account, not the VM/);
  t.regex(told[0]!, /you can claim again in 30s/);
  t.is((await h.say('bob', 'claim physics')).tone, 'success', 'others are not held back');

  // After the back-off the next failure doubles it; a success ends the run of failures.
  await h.clock.advance(31_000);
  t.is((await h.say('alice', 'claim physics')).tone, 'success');
  await h.run(2_000);
  const second = h.store.userSetupFailures('alice');
  t.like(second, { failures: 2 });
  t.is(second!.retryAt - second!.lastFailedAt, 60_000);
  await h.run(61_000);
  h.provisioner.accountFailures.delete('alice');
  t.is((await h.say('alice', 'claim physics')).tone, 'success');
  await h.run(2_000);
  t.is(h.store.userSetupFailures('alice'), undefined);
  t.is(h.store.activeLeases({ user: 'alice' }).length, 1);
  await assertConsistent(t, h);
});

test('personalising fails for the user after the VM was changed: that VM is replaced, never handed to anyone else', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  h.provisioner.accountFailures.set('alice', { reason: 'useradd: cannot create the account', vmChanged: true });
  await h.say('alice', 'claim physics');
  await h.tick();
  await h.app.reconciler.idle();
  const [ended] = h.store.auditLog({}).filter((a) => a.action === 'teardown');
  const vm = h.store.findVmByName(ended!.target)!;
  t.is(vm.state, 'failed');
  t.is(h.store.poolHealth('physics').consecutiveFailures, 0, 'not counted against the pool');
  t.like(h.store.userSetupFailures('alice'), { failures: 1 });
  await assertConsistent(t, h);
});

test('personalising interrupted by a stop is run again by the next start', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const storePath = join(dir.path, 'daaas.db');
  const cloudPath = join(dir.path, 'cloud.json');
  const clock = new ManualClock();
  const first = createHarness({ storePath, cloudPath, clock, personaliseMs: 60_000 });
  await first.run(12_000);
  await first.say('alice', 'claim physics');
  await first.tick();
  await first.close();
  const second = createHarness({ storePath, cloudPath, clock, personaliseMs: 1_000 });
  t.teardown(() => second.close());
  t.is(second.store.activeLeases({ user: 'alice' })[0]?.homeReadyAt, null);
  await second.run(2_000);
  t.not(second.store.activeLeases({ user: 'alice' })[0]?.homeReadyAt, null);
  t.is(second.dms.titles('alice').filter((m) => m.endsWith('is ready for you')).length, 1);
});

test('a released VM gets its release play before its server is deleted', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const [lease] = [await h.claim('alice', 'physics')].map(() => h.store.activeLeases({ user: 'alice' })[0]!);
  await h.say('alice', `release ${lease!.vm.name} --yes`);
  await h.tick();
  t.not(await h.cloud.getServer(lease!.vm.serverId!), null, 'not deleted while the play runs');
  await h.app.reconciler.idle();
  await h.tick();
  t.is(await h.cloud.getServer(lease!.vm.serverId!), null);
  t.regex((await h.provisioner.lastLog(lease!.vm.name))?.lines.join('\n') ?? '', /release: ok/);
});
