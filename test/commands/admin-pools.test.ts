import test from 'ava';
import { auditSince, filledHarness, snapshot, tableOf, tableRows, texts } from '../helpers/replies.ts';

const COLUMNS = ['pool', 'ready', 'booting', 'provisioning', 'claimed', 'waiting', 'failed', 'total/max', 'oldest lease', 'boot→ready', 'time empty', 'last error / note'];

test('admin pools shows every pool in detail', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('root', 'admin pools');
  t.is(r.tone, 'info');
  t.is(r.title, 'Pools (admin)');
  t.deepEqual(tableOf(r)?.columns, COLUMNS);
  t.deepEqual(tableRows(r), [
    { pool: 'physics', ready: '3/3', booting: '0', provisioning: '0', claimed: '0', waiting: '0', failed: '0', 'total/max': '3/6', 'oldest lease': '-', 'boot→ready': '9s', 'time empty': '8s', 'last error / note': '-' },
    { pool: 'imaging', ready: '1/1', booting: '0', provisioning: '0', claimed: '0', waiting: '0', failed: '0', 'total/max': '1/2', 'oldest lease': '-', 'boot→ready': '9s', 'time empty': '8s', 'last error / note': '-' },
  ]);
  t.true(texts(r).includes('Cloud: last observed 0ms ago.'));
  t.true(texts(r).includes('Claims: none yet since the bot started.'));
});

test('admin pools gives the claim latency, median and 95th percentile, once there are claims', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.say('bob', 'claim physics');
  t.regex(texts(await h.say('root', 'admin pools')), /Claims: median \d+\.\d ms, 95th percentile \d+\.\d ms \(last 2, command in to reply out\)\./);
});

test('admin pools shows the image owner contacts', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('root', 'admin pools');
  t.true(
    texts(r).includes(
      'Images:\n  physics: physics-base on m1.large, maintained by Physics software <physics@facility.example>\n  imaging: imaging-gpu on g1.gpu, maintained by Imaging group <imaging@facility.example>',
    ),
    texts(r),
  );
});

test('admin pools counts claimed and booting VMs and shows the oldest lease with its user', async (t) => {
  const h = await filledHarness(t);
  await h.say('bob', 'claim physics');
  const bobs = h.store.activeLeases({ user: 'bob' })[0]!.vm.name;
  await h.clock.advance(60_000);
  await h.say('alice', 'claim physics');
  await h.tick();
  await h.clock.advance(4 * 60_000);
  const rows = tableRows(await h.say('root', 'admin pools'));
  const physics = rows.find((row) => row.pool === 'physics')!;
  t.is(physics.claimed, '2');
  t.is(physics['oldest lease'], `${bobs} (bob, 5m)`);
  t.is(Number(physics.booting) + Number(physics.provisioning), 2, 'replacements on their way');
  t.is(physics['total/max'], '5/6');
  t.is(physics.ready, '1/3');
  t.is(rows.find((row) => row.pool === 'imaging')!['oldest lease'], '-');
});

test('admin pools shows the last error after the cloud refuses to create VMs', async (t) => {
  const h = await filledHarness(t);
  h.cloud.failNext('create', 5);
  await h.say('alice', 'claim physics');
  await h.run(15_000);
  const r = await h.say('root', 'admin pools');
  const physics = tableRows(r).find((row) => row.pool === 'physics')!;
  t.regex(String(physics['last error / note']), /^create: The cloud answered 503 to create \(\d+s ago\)/);
  t.regex(String(physics['last error / note']), /backing off after failures/);
  t.is(physics.ready, '2/3', 'the replacement could not be created');
  t.is(tableRows(r).find((row) => row.pool === 'imaging')!['last error / note'], '-');
  t.regex(h.store.poolHealth('physics').lastError ?? '', /503/);
});

test('admin pools counts failed VMs and shows why they failed', async (t) => {
  const h = await filledHarness(t, { provisionFailureRate: 1 });
  const rows = tableRows(await h.say('root', 'admin pools'));
  for (const row of rows) {
    t.true(Number(row.failed) > 0, `${String(row.pool)}: ${String(row.failed)}`);
    t.is(row.ready, row.pool === 'physics' ? '0/3' : '0/1');
    t.regex(String(row['last error / note']), /provisioning failed/);
  }
});

test('admin pools warns when the cloud is not answering', async (t) => {
  const h = await filledHarness(t);
  h.cloud.setOutage(true);
  await h.tick();
  const r = await h.say('root', 'admin pools');
  t.is(r.tone, 'warning');
  t.regex(texts(r), /Cloud: NOT answering — /);
});

test('admin pools is refused to non-admins and changes nothing', async (t) => {
  const h = await filledHarness(t);
  const before = snapshot(h);
  for (const who of ['alice', 'dave', 'mallory']) {
    const r = await h.say(who, 'admin pools');
    t.is(r.tone, 'error');
    t.is(r.title, '"admin pools" is for admins of the bot.');
    t.false(JSON.stringify(r).includes('facility.example'));
  }
  t.is((await h.say('root', 'admin pools')).tone, 'info');
  const after = snapshot(h);
  t.deepEqual({ ...after, audit: before.audit }, before, 'no VM or lease changed');
  t.deepEqual(
    auditSince(h, before.audit).map((e) => [e.actor, e.action, e.result]),
    [['alice', 'admin pools', 'ADMIN_ONLY'], ['dave', 'admin pools', 'ADMIN_ONLY'], ['mallory', 'admin pools', 'ADMIN_ONLY'], ['root', 'admin pools', 'ok']],
    'admin commands and attempts at them are audited',
  );
});
