/**
 * A pool removed from the configuration (here: renamed by mistake) on the simulated cloud,
 * across restarts: its claimed VMs are honoured until their leases end, everything else of it
 * is deleted, the holders are told once, and nothing is leaked.
 */
import test from 'ava';
import { join } from 'node:path';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { renderText } from '../../src/chat/shell/render-text.ts';
import { createHarness, tempDir, TEST_CONFIG, type Harness } from '../helpers/harness.ts';
import { assertConsistent } from '../helpers/invariants.ts';

const HOUR = 3_600_000;
const RENAMED = TEST_CONFIG.replace('\n  physics:\n', '\n  physic:\n');

function lives(t: { teardown: (fn: () => void) => void }) {
  const dir = tempDir();
  t.teardown(dir.remove);
  const clock = new ManualClock();
  const open: Harness[] = [];
  t.teardown(() => void Promise.all(open.map((h) => h.close().catch(() => undefined))));
  return async (config: string, personaliseMs = 0): Promise<Harness> => {
    await open.pop()?.close();
    const h = createHarness({ config, clock, personaliseMs, storePath: join(dir.path, 'daaas.db'), cloudPath: join(dir.path, 'cloud.json') });
    open.push(h);
    return h;
  };
}

const servers = async (h: Harness) => h.cloud.listServers(h.app.reconciler.tag);
const retiringNotices = (h: Harness, user: string) => h.dms.sent.filter((m) => m.to.user === user && m.message.title === 'Pool physics is being retired');

test('a pool renamed by mistake: claimed VMs stay and are told once, the rest is deleted, and renaming it back loses nothing', async (t) => {
  const life = lives(t);
  let h = await life(TEST_CONFIG);
  await h.run(12_000);
  await h.claim('alice', 'physics');
  await h.claim('bob', 'physics');
  await h.run(12_000);
  const claimed = h.store.listVms({ pool: 'physics', states: ['claimed'] });
  t.is(claimed.length, 2);
  const warm = h.store.listVms({ pool: 'physics', states: ['ready'] });
  t.is(warm.length, 3);

  h = await life(RENAMED);
  await h.run(20_000);
  for (const vm of claimed) t.is(h.store.getVm(vm.id)?.state, 'claimed', `${vm.name} is still claimed`);
  for (const vm of warm) t.is(h.store.getVm(vm.id)?.state, 'deleted', `${vm.name} was ready in the removed pool and is deleted`);
  const left = await servers(h);
  t.true(claimed.every((vm) => left.some((s) => s.id === vm.serverId)), 'the claimed VMs’ servers are untouched');
  t.false(warm.some((vm) => left.some((s) => s.id === vm.serverId)), 'the ready VMs’ servers are gone');
  t.is(h.store.listVms({ pool: 'physic', states: ['ready'] }).length, 3, 'the pool under its new name filled');
  t.is(retiringNotices(h, 'alice').length, 1, 'alice is told once, however many ticks');
  t.is(retiringNotices(h, 'bob').length, 1);
  await assertConsistent(t, h);
  // Honoured, not extended: by the holder or by an admin; status and admin pools say what is going on.
  const alices = claimed.find((vm) => h.store.activeLeases({ user: 'alice' })[0]!.vmId === vm.id)!;
  t.regex(await h.sayText('alice', 'extend'), new RegExp(`✖ ${alices.name} cannot be extended: its pool physics was removed from the configuration and is being retired\\. It will be torn down in 1d 23h`));
  t.regex(await h.sayText('root', `admin extend ${alices.name} 1d --reason please`), /cannot be extended: its pool physics was removed from the configuration/);
  t.deepEqual(h.store.auditLog().filter((e) => e.action === 'extend' || e.action === 'admin extend').map((e) => `${e.action} ${e.result}`), ['extend POOL_RETIRED', 'admin extend POOL_RETIRED']);
  t.regex(await h.sayText('alice', 'status'), new RegExp(`VM:\\s+${alices.name}[^]*Pool:\\s+physics[^]*Extensions left: 0 of 0`));
  t.regex(await h.sayText('root', 'admin leases physics'), /2 live leases in physics[^]*alice\s+physics-/);
  t.regex(await h.sayText('root', 'admin leases phisics'), /There is no pool called "phisics"/);
  t.regex(await h.sayText('root', 'admin pools'), /physics \(removed from configuration\)\s+0\/0\s+0\s+0\s+2\s+-\s+0\s+2\/0.*removed from configuration: 2 claimed VMs kept until their leases end \(no extensions\); the last lease ends in 1d 23h/);

  // The mistake is noticed and undone before the leases end: the claimed VMs are back in their pool.
  h = await life(TEST_CONFIG);
  await h.run(20_000);
  for (const vm of claimed) t.is(h.store.getVm(vm.id)?.state, 'claimed');
  t.is(h.store.activeLeases({ pool: 'physics' }).length, 2);
  t.is(h.store.listVms({ pool: 'physic' }).length, 0, 'the pool under the wrong name is retired in turn, nobody held a VM of it');
  t.is(h.store.listVms({ pool: 'physics', states: ['ready'] }).length, 3);
  t.regex(renderText(await h.say('alice', 'extend'), { now: h.clock.now() }), /extended/);
  await assertConsistent(t, h);
});

test('a removed pool’s claimed VMs are deleted when their leases end, and then nothing of the pool is left', async (t) => {
  const life = lives(t);
  let h = await life(TEST_CONFIG);
  await h.run(12_000);
  await h.claim('alice', 'physics');
  h = await life(RENAMED);
  await h.run(20_000);
  t.is(h.store.listVms({ pool: 'physics' }).length, 1, 'only the claimed VM is left');
  await h.run(49 * HOUR, HOUR);
  await h.run(20_000);
  t.is(h.store.listVms({ pool: 'physics' }).length, 0, 'nothing of physics is left in the store');
  t.false((await servers(h)).some((s) => s.metadata['daaas:pool'] === 'physics'), 'nor in the cloud');
  t.deepEqual(h.dms.titles('alice').filter((title) => /physics-/.test(title)).map((title) => title.replace(/physics-\w+/, 'VM')), ['VM has been torn down']);
  t.is(retiringNotices(h, 'alice').length, 1);
  t.is(h.store.auditLog().filter((e) => e.action === 'extend').length, 0);
  await assertConsistent(t, h);
});

test('a claim not yet set up when its pool left the configuration is still set up for its holder', async (t) => {
  const life = lives(t);
  let h = await life(TEST_CONFIG, 30_000);
  await h.run(12_000);
  t.regex(await h.sayText('alice', 'claim physics'), /is yours/);
  await h.tick(); // its personalising starts, and the bot stops before it ends
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  t.is(lease.homeReadyAt, null);
  h = await life(RENAMED, 30_000);
  await h.run(40_000);
  t.not(h.store.getLease(lease.id)?.homeReadyAt, null, 'set up after the restart');
  t.true(h.dms.titles('alice').includes(`${lease.vm.name} is ready for you`));
  t.regex(await h.sayText('alice', 'status'), /Connect: address [\d.]+, as before \(pool physics was removed from the configuration\)/);
});
