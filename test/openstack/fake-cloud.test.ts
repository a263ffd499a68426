import test from 'ava';
import { FakeOpenStack } from '../helpers/fake-openstack.ts';
import { botOn, readyCount } from './bot-on-openstack.ts';
import { botScenarios } from './scenarios.ts';

// One fake cloud for the file, as a real cloud is shared by every test against it.
const fake = new FakeOpenStack({ bootMs: 200, deleteMs: 100 });
test.before(() => fake.start().then(() => undefined));
test.after.always(() => fake.stop());

botScenarios(test, 'fake OpenStack API', async () => ({ env: fake.env(), image: 'physics-base', flavor: 'm1.small' }));

test('a server that goes to ERROR is replaced, never handed out, and its fault told to admins', async (t) => {
  const bot = botOn({ env: fake.env(), instance: 'errors', image: 'physics-base', flavor: 'm1.small', size: 2 });
  t.teardown(() => bot.close());
  await bot.app.reconciler.tick();
  const [first] = await bot.servers();
  fake.breakServer(first!.id, 'No valid host was found. There are not enough hosts available.');
  await bot.until(t, 'pool full with the broken one replaced', async () => readyCount(bot) === 2 && !(await bot.servers()).some((s) => s.id === first!.id));
  t.false(bot.store.listVms({ states: ['ready'] }).some((vm) => vm.serverId === first!.id));
  t.regex(await bot.say('root', 'admin pools'), /No valid host was found/);
});

test('quota: the bot never boots past it and admins are told why', async (t) => {
  const small = await new FakeOpenStack({ bootMs: 100, quota: { instances: 2, cores: 100 } }).start();
  t.teardown(() => small.stop());
  const bot = botOn({ env: small.env(), instance: 'quota', image: 'physics-base', flavor: 'm1.small', size: 4 });
  t.teardown(() => bot.close());
  await bot.until(t, 'quota used up', () => readyCount(bot) === 2);
  for (let i = 0; i < 3; i++) await bot.app.reconciler.tick();
  t.is(small.servers.size, 2);
  t.is(small.requests.filter((r) => r.method === 'POST' && r.url.endsWith('/servers')).length, 2, 'no boot was even tried past the quota');
  t.regex(await bot.say('root', 'admin pools'), /quota exhausted/);
});

test('a cloud that is down: the bot keeps answering, and fills its pool once the cloud is back', async (t) => {
  const fake = await new FakeOpenStack({ bootMs: 100 }).start();
  t.teardown(() => fake.stop());
  const bot = botOn({ env: fake.env(), instance: 'outage', image: 'physics-base', flavor: 'm1.small', size: 1 });
  t.teardown(() => bot.close());
  fake.fail(...Array.from({ length: 8 }, () => ({ status: 503 })));
  await bot.app.reconciler.tick();
  t.regex(bot.app.reconciler.status.lastError ?? '', /503/);
  t.regex(await bot.say('alice', 'claim physics'), /no ready VM|empty|cloud/i);
  await bot.until(t, 'pool full after the outage', () => readyCount(bot) === 1);
});

test('API calls per reconcile tick at steady state: one changes-since request, without the tag filter; a full walk, one page of the tagged list', async (t) => {
  const fake = await new FakeOpenStack({ bootMs: 100 }).start();
  t.teardown(() => fake.stop());
  const bot = botOn({ env: fake.env(), instance: 'steady', image: 'physics-base', flavor: 'm1.small', size: 3 });
  t.teardown(() => bot.close());
  await bot.until(t, 'pool full', () => readyCount(bot) === 3);
  await bot.app.reconciler.tick();
  const before = fake.requests.length;
  await bot.app.reconciler.tick();
  const between = fake.requests.slice(before).map((r) => `${r.method} ${r.url}`);
  t.is(between.length, 1, between.join('\n'));
  t.regex(between[0]!, /^GET \/compute\/v2\.1\/servers\/detail\?changes-since=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\d\.\d{3}Z&limit=200$/);
  bot.app.reconciler.resync();
  const walkFrom = fake.requests.length;
  await bot.app.reconciler.tick();
  t.deepEqual(
    fake.requests.slice(walkFrom).map((r) => `${r.method} ${r.url}`).filter((u) => u.includes('/servers/detail')),
    ['GET /compute/v2.1/servers/detail?tags=daaas%3Asteady&limit=200'],
  );
});
