/** The simulated cloud's `changes-since`, as Nova answers it: changes, deletions for a while, pages, and a change left out on purpose. */
import test from 'ava';
import { join } from 'node:path';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { SimCloud, type SimCloudOptions } from '../../../src/adapters/sim-cloud/sim-cloud.ts';
import type { CreateServerRequest } from '../../../src/ports/cloud.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

function sim(options: Partial<SimCloudOptions> = {}) {
  const clock = new ManualClock();
  const cloud = new SimCloud({ clock, bootMs: 5_000, bootJitter: 0, quota: { instances: 50, cores: 100 }, flavors: { small: { vcpus: 1, gpus: 0 } }, images: ['base'], pageSize: 3, random: () => 0.5, ...options });
  return { cloud, clock };
}

const req = (name: string, tags = ['daaas:t']): CreateServerRequest => ({ name, image: 'base', flavor: 'small', networks: [], metadata: { 'daaas:vm': name }, tags });
const ids = (servers: { id: string }[]) => servers.map((s) => s.id).sort();

test('a boot finishing, a fault and a deletion are changes; nothing else is', async (t) => {
  const { cloud, clock } = sim();
  const a = await cloud.createServer(req('a'));
  const b = await cloud.createServer(req('b'));
  clock.advance(1_000);
  const afterCreate = clock.now();
  t.deepEqual(await cloud.listChanges('daaas:t', afterCreate), [], 'nothing changed while they boot');
  clock.advance(5_000);
  t.deepEqual(ids(await cloud.listChanges('daaas:t', afterCreate)), ids([a, b]), 'BUILD to ACTIVE is a change');
  const quiet = clock.now() + 1;
  clock.advance(10);
  t.deepEqual(await cloud.listChanges('daaas:t', quiet), []);
  cloud.breakServer(a.id);
  const broken = await cloud.listChanges('daaas:t', quiet);
  t.deepEqual(broken.map((s) => [s.id, s.status]), [[a.id, 'ERROR']]);
  await cloud.deleteServer(b.id);
  const changes = await cloud.listChanges('daaas:t', quiet);
  const gone = changes.find((s) => s.id === b.id);
  t.is(gone?.status, 'DELETED');
  t.deepEqual(gone?.tags, [], 'a deleted server has lost its tags, as on Nova');
  t.deepEqual(gone?.metadata, {});
});

test('deleted servers are reported for a while, then gone; servers of other tags only when deleted', async (t) => {
  const { cloud, clock } = sim({ deletedRetentionMs: 60_000 });
  const ours = await cloud.createServer(req('ours'));
  const theirs = await cloud.createServer(req('theirs', ['daaas:other']));
  const since = clock.now();
  t.deepEqual(ids(await cloud.listChanges('daaas:t', since)), [ours.id]);
  cloud.removeServer(ours.id);
  await cloud.deleteServer(theirs.id);
  t.deepEqual(ids(await cloud.listChanges('daaas:t', since)), ids([ours, theirs]), 'deleted ones are untagged, so every deletion is reported');
  clock.advance(60_000);
  t.is((await cloud.listChanges('daaas:t', since)).length, 2);
  clock.advance(1);
  t.deepEqual(await cloud.listChanges('daaas:t', since), [], 'archived after the retention');
});

test('changes come in pages, each one request; an empty answer is one request', async (t) => {
  const { cloud } = sim();
  for (let i = 0; i < 7; i++) await cloud.createServer(req(`s${i}`));
  const before = cloud.calls.changes;
  t.is((await cloud.listChanges('daaas:t', 0)).length, 7);
  t.is(cloud.calls.changes - before, 3);
  await cloud.listChanges('daaas:t', Number.MAX_SAFE_INTEGER);
  t.is(cloud.calls.changes - before, 4);
});

test('a change dropped on purpose is missing from changes-since but not from the full list', async (t) => {
  const { cloud, clock } = sim();
  const a = await cloud.createServer(req('a'));
  const since = clock.now();
  cloud.dropChangesOf(a.id);
  cloud.breakServer(a.id);
  t.deepEqual(await cloud.listChanges('daaas:t', since), []);
  t.is((await cloud.listServers('daaas:t'))[0]?.status, 'ERROR');
  cloud.removeServer(a.id);
  t.deepEqual(await cloud.listChanges('daaas:t', since), []);
  t.deepEqual(await cloud.listServers('daaas:t'), []);
});

test('an outage fails changes-since like any call', async (t) => {
  const { cloud } = sim();
  cloud.setOutage(true);
  await t.throwsAsync(cloud.listChanges('daaas:t', 0), { message: /did not answer \(changes\)/ });
});

test('deleted servers outlive a restart of the process, as the cloud keeps them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'daaas-sim-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const statePath = join(dir, 'cloud.json');
  const first = sim({ statePath });
  const a = await first.cloud.createServer(req('a'));
  await first.cloud.deleteServer(a.id);
  const again = new SimCloud({ clock: first.clock, statePath, bootMs: 5_000, quota: { instances: 50, cores: 100 }, flavors: { small: { vcpus: 1, gpus: 0 } }, images: ['base'] });
  t.deepEqual((await again.listChanges('daaas:t', 0)).map((s) => [s.id, s.status]), [[a.id, 'DELETED']]);
});
