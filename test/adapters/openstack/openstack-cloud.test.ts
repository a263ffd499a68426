import test from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import { parse } from 'yaml';
import { generateHostKey, hostKeyUserData } from '../../../src/adapters/ansible/host-keys.ts';
import { COMPUTE_MICROVERSION, OpenStackCloud, type OpenStackCloudOptions } from '../../../src/adapters/openstack/openstack-cloud.ts';
import { resolveOpenStack } from '../../../src/adapters/openstack/os-config.ts';
import { OpenStackSession } from '../../../src/adapters/openstack/os-session.ts';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import { CloudError, type CreateServerRequest } from '../../../src/ports/cloud.ts';
import { FakeOpenStack, type FakeOpenStackOptions } from '../../helpers/fake-openstack.ts';
import { recordingLogger } from '../../helpers/recording-logger.ts';
import { cloudContract } from '../../ports/cloud-contract.ts';

async function openstack(fakeOptions: FakeOpenStackOptions = {}, options: Partial<OpenStackCloudOptions> = {}) {
  const fake = await new FakeOpenStack(fakeOptions).start();
  const clock = new SystemClock();
  const session = new OpenStackSession({ settings: resolveOpenStack(fake.env()), clock, log: recordingLogger().log, backoffMs: 5 });
  const cloud = new OpenStackCloud({ session, clock, pageSize: 3, ...options });
  return { fake, session, cloud };
}

cloudContract(test, 'OpenStack adapter on a fake OpenStack API', async () => {
  const { fake, cloud } = await openstack({ bootMs: 200, deleteMs: 100 });
  return { cloud, advance: (ms) => delay(ms), flavor: 'm1.small', image: 'physics-base', bootMs: 200, networks: ['facility-analysis'], addressed: true, cleanup: () => fake.stop() };
});

const request = (name: string, extra: Partial<CreateServerRequest> = {}): CreateServerRequest => ({
  name,
  image: 'physics-base',
  flavor: 'm1.small',
  networks: [],
  metadata: { 'daaas:vm': name },
  tags: ['daaas:test'],
  ...extra,
});

test('boots by image and flavour ids, with the microversion, tags, networks "none", key, groups and user data', async (t) => {
  const { fake, cloud } = await openstack({}, { keyName: 'facility-key', securityGroups: ['rdp'], userData: '#cloud-config\n' });
  t.teardown(() => fake.stop());
  const created = await cloud.createServer(request('vm-1'));
  const post = fake.requests.find((r) => r.method === 'POST' && r.url === '/compute/v2.1/servers');
  t.is(post?.headers['openstack-api-version'], `compute ${COMPUTE_MICROVERSION}`);
  const server = fake.servers.get(created.id)!;
  t.is(server.flavorId, fake.flavors[0]!.id);
  t.is(server.imageId, fake.images[0]!.id);
  t.deepEqual(server.tags, ['daaas:test']);
  t.deepEqual(server.networks, []);
  t.is(created.status, 'BUILD');
  t.is(created.image, fake.images[0]!.id);
  t.is(server.userData, '#cloud-config\n');
});

test("the bot's user data for a VM (its host key) is merged with the site's configured user data", async (t) => {
  const { fake, cloud } = await openstack({}, { userData: '#cloud-config\npackages: [htop]\n' });
  t.teardown(() => fake.stop());
  const key = generateHostKey();
  const created = await cloud.createServer({ ...request('vm-k'), userData: hostKeyUserData(key) });
  const sent = parse(fake.servers.get(created.id)!.userData!) as Record<string, unknown>;
  t.deepEqual(sent, { packages: ['htop'], ssh_deletekeys: true, ssh_keys: { ed25519_private: key.privateKey, ed25519_public: key.publicKey } });
  t.true(fake.servers.get(created.id)!.userData!.startsWith('#cloud-config\n'));
});

test('network names are resolved to ids; an unknown network is a clear error and nothing boots', async (t) => {
  const { fake, cloud } = await openstack();
  t.teardown(() => fake.stop());
  const created = await cloud.createServer(request('vm-n', { networks: ['facility-analysis'] }));
  t.deepEqual(fake.servers.get(created.id)?.networks, [fake.networks[0]!.id]);
  const error = await t.throwsAsync(cloud.createServer(request('vm-m', { networks: ['nowhere'] })), { instanceOf: CloudError });
  t.is(error?.message, 'network "nowhere" does not exist in this cloud');
  t.is(fake.servers.size, 1);
});

test('the list is one paged walk filtered by tag on the server side, whatever the page size', async (t) => {
  const { fake, cloud } = await openstack({ maxLimit: 4 }, { pageSize: 10 });
  t.teardown(() => fake.stop());
  for (let i = 0; i < 9; i++) await cloud.createServer(request(`vm-${i}`));
  fake.addStranger('someone-else');
  const before = fake.requests.length;
  const listed = await cloud.listServers('daaas:test');
  t.is(listed.length, 9);
  const calls = fake.requests.slice(before);
  t.is(calls.length, 3, '4 + 4 + 1');
  t.true(calls.every((c) => c.url.includes('tags=daaas%3Atest')));
});

test('the newest active image of a name is used, and the choice is refreshed after a while', async (t) => {
  const { fake, cloud } = await openstack({}, { imageRefreshMs: 3_000 });
  t.teardown(() => fake.stop());
  const old = fake.images[0]!.id;
  t.is((await cloud.createServer(request('vm-a'))).image, old);
  const rebuilt = fake.publishImage('physics-base');
  t.is((await cloud.resolveImage('physics-base')).id, old, 'cached for a while: not one Glance call per boot');
  await delay(3_100);
  t.is((await cloud.createServer(request('vm-b'))).image, rebuilt);
  t.is((await cloud.resolveImage(rebuilt)).id, rebuilt, 'an id works too');
});

test('states map to the port: BUILD, ACTIVE, ERROR with its fault, and a server being deleted counts as gone', async (t) => {
  const { fake, cloud } = await openstack({ bootMs: 1_500, deleteMs: 10_000 });
  t.teardown(() => fake.stop());
  const a = await cloud.createServer(request('vm-a'));
  const b = await cloud.createServer(request('vm-b'));
  t.deepEqual((await cloud.listServers('daaas:test')).map((s) => s.status), ['BUILD', 'BUILD']);
  await delay(1_600);
  fake.breakServer(b.id, 'No valid host was found. There are not enough hosts available.');
  const states = new Map((await cloud.listServers('daaas:test')).map((s) => [s.id, s]));
  t.is(states.get(a.id)?.status, 'ACTIVE');
  t.is(states.get(a.id)?.flavor, 'm1.small');
  t.is(states.get(b.id)?.status, 'ERROR');
  t.is(states.get(b.id)?.fault, 'No valid host was found. There are not enough hosts available.');
  await cloud.deleteServer(a.id);
  t.is((await cloud.getServer(a.id))?.status, 'DELETED', 'still listed while Nova deletes it');
  t.is(await cloud.getServer('not-a-server'), null);
});

test('quota: limits are read from Nova and a boot past them is a 403 with Nova\'s words', async (t) => {
  const { fake, cloud } = await openstack({ quota: { instances: 2, cores: 100 } });
  t.teardown(() => fake.stop());
  await cloud.createServer(request('vm-1'));
  t.deepEqual(await cloud.limits(), { maxInstances: 2, usedInstances: 1, maxCores: 100, usedCores: 1 });
  await cloud.createServer(request('vm-2'));
  const error = await t.throwsAsync(cloud.createServer(request('vm-3')), { instanceOf: CloudError });
  t.is(error?.status, 403);
  t.is(error?.message, 'boot: the cloud answered 403: Quota exceeded for instances: Requested 1, but already used 2 of 2 instances');
  t.false(error?.transient);
});

test('tags and metadata Nova would refuse are refused before anything is sent', async (t) => {
  const { fake, cloud } = await openstack();
  t.teardown(() => fake.stop());
  await t.throwsAsync(cloud.createServer(request('vm', { tags: ['a,b'] })), { message: /tag "a,b" is not allowed/ });
  await t.throwsAsync(cloud.createServer(request('vm', { metadata: { k: 'x'.repeat(256) } })), { message: /longer than Nova's 255/ });
  t.is(fake.count('POST', /servers/), 0);
});

test('an unknown flavour names the flavours there are; flavours are read once, not per boot', async (t) => {
  const { fake, cloud } = await openstack();
  t.teardown(() => fake.stop());
  t.is(await cloud.flavorCores('g1.gpu'), 8);
  await cloud.createServer(request('vm-1'));
  await cloud.createServer(request('vm-2'));
  t.is(fake.count('GET', /flavors/), 1);
  const error = await t.throwsAsync(cloud.flavorCores('c9.huge'), { instanceOf: CloudError });
  t.is(error?.message, 'read flavor: flavor "c9.huge" does not exist in this cloud (it has: m1.small, g1.gpu)');
});
