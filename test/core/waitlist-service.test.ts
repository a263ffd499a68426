/**
 * The waitlist from chat: joining, positions, leaving, limits and groups; holds offered,
 * claimed, passed and lapsed; auto-assign; extensions while others wait; a restart in between.
 */
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { createHarness, tempDir, TEST_CONFIG, type Harness, type HarnessOptions } from '../helpers/harness.ts';
import { actionsOf, tableRows } from '../helpers/replies.ts';

const MIN = 60_000;
/** physics: one warm VM, at most 3, anyone may claim, the queue on. */
const QUEUE_CONFIG = TEST_CONFIG.replace('physics: [alice, bob, carol]', "physics: ['*']").replace('size: 3\n    max: 6', 'size: 1\n    max: 3\n    queue: true');

async function harness(t: ExecutionContext, config = QUEUE_CONFIG, options: HarnessOptions = {}): Promise<Harness> {
  const h = createHarness({ config, ...options });
  t.teardown(() => h.close());
  await h.run(12_000);
  return h;
}

const dmsTo = (h: Harness, user: string) => h.dms.sent.filter((s) => s.to.user === user).map((s) => s.message);

test('a claim on an empty pool queues: the true position, an estimate from boots seen, a Leave the queue button', async (t) => {
  const h = await harness(t);
  t.is((await h.say('u1', 'claim physics')).tone, 'success');
  const second = await h.say('u2', 'claim physics');
  t.is(second.title, 'You are number 1 in the queue for physics');
  t.regex(JSON.stringify(second.blocks), /Expected wait","value":"about \d+s"/);
  t.deepEqual(actionsOf(second), [{ label: 'Leave the queue', command: 'leave physics', style: 'danger' }]);
  t.is((await h.say('u3', 'claim physics')).title, 'You are number 2 in the queue for physics');
  t.is((await h.say('u4', 'claim physics')).title, 'You are number 3 in the queue for physics');
  t.is((await h.say('u3', 'claim physics')).title, 'You are already in the queue for physics: number 2', 'one entry per user and pool');
  t.is(h.store.queuedCount('physics'), 3);
  t.deepEqual(h.store.auditLog().filter((e) => e.action === 'claim' && e.actor !== 'u1').map((e) => e.result), ['QUEUED', 'QUEUED', 'QUEUED', 'QUEUED'], 'a claim that queued is no successful claim');

  const status = await h.say('u4', 'status');
  t.is(status.title, 'No VM yet; number 3 in the queue for physics');
  t.like(tableRows(status)[0], { Queue: 'physics', Position: '3' });

  t.regex(JSON.stringify((await h.say('u9', 'pools')).blocks), /physics: 3 people wait for a VM; a claim queues behind them\./);
  const metrics = await h.metrics.render();
  t.true(metrics.includes('daaas_queue_length{pool="physics"} 3'), 'queue length on /metrics');
  t.true(metrics.includes('daaas_claims_served_total{pool="physics",how="instant"} 1'));
  t.true(metrics.includes('daaas_claims_served_instantly_ratio{pool="physics"} 1'));

  const left = await h.say('u2', 'leave');
  t.is(left.title, 'You left the queue for physics');
  t.regex(JSON.stringify(left.blocks), /The 2 people behind you moved up/);
  t.is((await h.say('u4', 'status')).title, 'No VM yet; number 2 in the queue for physics', 'leaving moves everyone up');
  t.is((await h.say('u2', 'leave physics')).title, 'You are not in the queue for physics.');
  t.is((await h.say('u2', 'leave imaging')).tone, 'error');
  t.regex((await h.say('u2', 'leave nosuchpool')).title, /There is no pool called "nosuchpool"/);
});

test('leave names the queue when the user waits in more than one', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace('imaging: [dave]', "imaging: ['*']").replace('size: 1\n    max: 2\n    lease: 24h', 'size: 1\n    max: 2\n    queue: true\n    lease: 24h'));
  await h.say('u1', 'claim physics');
  await h.say('u1', 'claim imaging');
  await h.say('u2', 'claim physics');
  await h.say('u2', 'claim imaging');
  t.is(h.store.queueEntries({ user: 'u2' }).length, 2);
  const which = await h.say('u2', 'leave');
  t.is(which.title, 'You wait in 2 queues: physics, imaging. Which one?');
  t.is(h.store.queueEntries({ user: 'u2' }).length, 2, 'nothing left');
  t.is((await h.say('u2', 'leave imaging')).title, 'You left the queue for imaging');
  t.is((await h.say('u2', 'status')).title, 'No VM yet; number 1 in the queue for physics');
  t.is((await h.say('u3', 'leave')).title, 'You are not in any queue.');
});

test('a user at maxLeasesPerUser cannot queue, and groups are checked as for a claim', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace("physics: ['*']", 'physics: [alice, bob, carol]'));
  t.is((await h.say('alice', 'claim physics')).tone, 'success');
  const again = await h.say('alice', 'claim physics');
  t.regex(again.title, /allows 1 per person/);
  t.is(h.store.queuedCount('physics'), 0);
  const stranger = await h.say('dave', 'claim physics');
  t.regex(stranger.title, /Pool physics is for members of/);
  t.is(h.store.queuedCount('physics'), 0);
  t.is((await h.say('bob', 'claim physics')).title, 'You are number 1 in the queue for physics');
});

test('a ready VM is held for the first in line: Claim it takes it, nobody else can, the next waits for the next VM', async (t) => {
  const h = await harness(t);
  await h.say('u1', 'claim physics');
  await h.say('u2', 'claim physics');
  await h.say('u3', 'claim physics');
  await h.run(12_000);
  const [offer] = dmsTo(h, 'u2');
  t.regex(offer!.title, /^A VM of physics is ready for you: physics-\w{4}$/);
  t.deepEqual(actionsOf(offer!).map((a) => a.command), ['claim physics', 'leave physics']);
  const held = offer!.title.split(': ')[1]!;
  // u3's VM may be ready too; someone new queues behind, never takes a held VM.
  const newcomer = await h.say('u9', 'claim physics');
  t.regex(newcomer.title, /in the queue for physics/);
  const claimed = await h.say('u2', 'claim physics');
  t.is(claimed.title, `${held} is yours for 2d`);
  t.is(h.store.activeLeases({ user: 'u2' })[0]!.vm.name, held);
  t.is(h.store.queuePosition('physics', 'u2'), null);
  t.true(h.store.auditLog().some((e) => e.actor === 'u2' && e.action === 'claim' && e.result === 'ok'));
});

test('Pass hands the held VM to the next in line, and the passer leaves the queue', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace('max: 3', 'max: 2'));
  await h.say('u1', 'claim physics');
  await h.say('u2', 'claim physics');
  await h.say('u3', 'claim physics');
  await h.run(12_000);
  const held = dmsTo(h, 'u2')[0]!.title.split(': ')[1]!;
  const passed = await h.say('u2', 'leave physics');
  t.is(passed.title, `You passed ${held} on and left the queue for physics`);
  t.regex(JSON.stringify(passed.blocks), /It goes to the next in line\. The 1 person behind you moved up/);
  await h.tick();
  t.is(dmsTo(h, 'u3')[0]?.title, `A VM of physics is ready for you: ${held}`);
  t.is((await h.say('u3', 'claim physics')).title, `${held} is yours for 2d`);
});

test('a hold not taken in holdFor passes to the next in line; the lapser is told and leaves the queue', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace('max: 3', 'max: 2').replace('queue: true', 'queue: true\n    holdFor: 5m'));
  await h.say('u1', 'claim physics');
  await h.say('u2', 'claim physics');
  await h.say('u3', 'claim physics');
  await h.run(12_000);
  const held = dmsTo(h, 'u2')[0]!.title.split(': ')[1]!;
  await h.clock.advance(5 * MIN);
  await h.tick();
  t.deepEqual(dmsTo(h, 'u2').map((m) => m.title), [`A VM of physics is ready for you: ${held}`, `${held} was passed to the next in line`]);
  t.is(h.store.queuePosition('physics', 'u2'), null);
  t.is(dmsTo(h, 'u3')[0]?.title, `A VM of physics is ready for you: ${held}`);
  const late = await h.say('u2', 'claim physics');
  t.regex(late.title, /number \d in the queue for physics/, 'too late: queues again at the back');
});

test('a restart between the hold and the claim keeps the hold and gives the VM to its holder only', async (t) => {
  const dir = tempDir('daaas-queue-');
  t.teardown(dir.remove);
  const paths = { storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'cloud.json') };
  const first = createHarness({ config: QUEUE_CONFIG, ...paths });
  await first.run(12_000);
  await first.say('u1', 'claim physics');
  await first.say('u2', 'claim physics');
  await first.say('u3', 'claim physics');
  await first.run(12_000);
  const held = dmsTo(first, 'u2')[0]!.title.split(': ')[1]!;
  await first.close();

  const second = createHarness({ config: QUEUE_CONFIG, ...paths, clock: first.clock });
  t.teardown(() => second.close());
  await second.tick();
  t.is(second.dms.sent.filter((s) => /ready for you/.test(s.message.title) && s.to.user === 'u2').length, 0, 'not offered twice');
  t.regex((await second.say('u9', 'claim physics')).title, /in the queue/);
  t.is((await second.say('u2', 'claim physics')).title, `${held} is yours for 2d`);
  t.is(new Set(second.store.activeLeases({ pool: 'physics' }).map((l) => l.vmId)).size, second.store.activeLeases({ pool: 'physics' }).length);
});

test('autoAssign leases the VM to the first in line at once and sends the claim card', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace('queue: true', 'queue: true\n    autoAssign: true'));
  await h.say('u1', 'claim physics');
  const queued = await h.say('u2', 'claim physics');
  t.regex(JSON.stringify(queued.blocks), /it is yours at once/);
  const before = h.clock.now();
  await h.run(12_000);
  const lease = h.store.activeLeases({ user: 'u2' })[0]!;
  t.true(lease.claimedAt > before, 'the lease starts when the VM is handed over');
  t.is(dmsTo(h, 'u2')[0]!.title, `Your turn: ${lease.vm.name} is yours for 2d`);
  t.deepEqual(actionsOf(dmsTo(h, 'u2')[0]!).map((a) => a.label), ['Extend +1d', 'Release']);
});

test('the pool boots for size + queued, never beyond max, and retires the extras nobody claims', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace('max: 3', 'max: 4'));
  await h.say('u1', 'claim physics');
  for (const u of ['u2', 'u3', 'u4', 'u5', 'u6']) await h.say(u, 'claim physics');
  await h.tick();
  t.is(h.store.listVms({ pool: 'physics' }).length, 4, 'max 4: 1 claimed + 3 booting, not 1 + 5');
  await h.run(12_000);
  for (const u of ['u2', 'u3', 'u4']) await h.say(u, 'leave physics');
  await h.run(3_000);
  // Nobody waits any more but u5, u6 (holding); 1 warm + holds kept, the rest retired.
  const live = h.store.listVms({ pool: 'physics', states: ['ready', 'booting', 'provisioning'] });
  const held = new Set(h.store.heldVmIds());
  t.true(live.length <= 1 + h.store.queuedCount('physics'), `${live.length} warm VMs for ${h.store.queuedCount('physics')} waiting`);
  t.true([...held].every((id) => live.some((vm) => vm.id === id)), 'held VMs are never retired');
});

test('extendWhileQueued: once allows one more extension while others wait and says how many wait; an admin is not limited', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace('maxExtensions: 2', 'maxExtensions: 5'));
  await h.say('u1', 'claim physics');
  await h.say('u2', 'claim physics');
  await h.say('u3', 'claim physics');
  t.is((await h.say('u1', 'extend')).tone, 'success');
  const refused = await h.say('u1', 'extend');
  t.regex(refused.title, /cannot be extended now: 2 people are waiting for a VM of this pool, and you have extended once already while others wait/);
  const vm = h.store.activeLeases({ user: 'u1' })[0]!.vm.name;
  t.is((await h.say('root', `admin extend ${vm} 1d --reason course`)).tone, 'success');
  await h.say('u2', 'leave physics');
  await h.say('u3', 'leave physics');
  t.is((await h.say('u1', 'extend')).tone, 'success', 'nobody waits: as usual');
});

test('extendWhileQueued: refuse allows none while anyone waits; allow keeps the pool’s usual limits', async (t) => {
  const refuse = await harness(t, QUEUE_CONFIG.replace('queue: true', 'queue: true\n    extendWhileQueued: refuse'));
  await refuse.say('u1', 'claim physics');
  await refuse.say('u2', 'claim physics');
  t.regex((await refuse.say('u1', 'extend')).title, /1 person is waiting for a VM of this pool, and it allows no extensions while anyone waits/);
  const allow = await harness(t, QUEUE_CONFIG.replace('queue: true', 'queue: true\n    extendWhileQueued: allow'));
  await allow.say('u1', 'claim physics');
  await allow.say('u2', 'claim physics');
  t.is((await allow.say('u1', 'extend')).tone, 'success');
  t.is((await allow.say('u1', 'extend')).tone, 'success');
  t.regex((await allow.say('u1', 'extend')).title, /extended twice, the most pool physics allows/);
});

test('queue: false answers an empty pool as before, with when the next VM is expected', async (t) => {
  const h = await harness(t, QUEUE_CONFIG.replace('queue: true', 'queue: false'));
  await h.say('u1', 'claim physics');
  const refused = await h.say('u2', 'claim physics');
  t.regex(refused.title, /No VM is ready in physics right now/);
  t.is(h.store.queuedCount('physics'), 0);
});
