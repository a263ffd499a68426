import type { ExecutionContext } from 'ava';
import type { Cloud, CreateServerRequest } from '../../src/ports/cloud.ts';
import { CloudError } from '../../src/ports/cloud.ts';

export interface CloudFixture {
  cloud: Cloud;
  /** Lets `ms` of the cloud's time pass (a manual clock's advance, or a real sleep). */
  advance(ms: number): Promise<void>;
  /** A flavour and an image that exist. */
  flavor: string;
  image: string;
  /** How long a boot may take on this cloud. */
  bootMs: number;
  /** Networks the contract's servers boot on ([] boots them without any). */
  networks: string[];
  /** Whether those servers get an address (a server without networks has none). */
  addressed: boolean;
  cleanup(): Promise<void>;
}

/**
 * What every Cloud implementation must do, whatever is behind it: the simulated cloud runs it
 * in `npm test`; the OpenStack adapter runs it against a real cloud.
 */
/** ava's `test`, or `test.serial` for a cloud that tests must not share at once. */
export type Register = (title: string, implementation: (t: ExecutionContext) => Promise<void>) => void;

export function cloudContract(test: Register, name: string, make: () => Promise<CloudFixture>): void {
  const request = (f: CloudFixture, tag: string, suffix: string): CreateServerRequest => ({
    name: `contract-${suffix}`,
    image: f.image,
    flavor: f.flavor,
    networks: f.networks,
    metadata: { 'daaas:managed-by': 'contract', 'daaas:vm': suffix },
    tags: [tag],
  });
  const uniqueTag = () => `daaas:contract-${Math.random().toString(36).slice(2, 8)}`;

  const withFixture = (fn: (t: ExecutionContext, f: CloudFixture) => Promise<void>) => async (t: ExecutionContext) => {
    const f = await make();
    try {
      await fn(t, f);
    } finally {
      await f.cleanup();
    }
  };

  test(`${name}: a created server is listed by its tag, boots to ACTIVE with an address, and keeps its metadata`, withFixture(async (t, f) => {
    const tag = uniqueTag();
    const created = await f.cloud.createServer(request(f, tag, 'a1'));
    t.is(created.name, 'contract-a1');
    t.true(['BUILD', 'ACTIVE'].includes(created.status));
    let found = (await f.cloud.listServers(tag)).find((s) => s.id === created.id);
    t.truthy(found);
    for (let waited = 0; found?.status === 'BUILD' && waited <= f.bootMs * 3; waited += f.bootMs / 4) {
      await f.advance(f.bootMs / 4);
      found = (await f.cloud.listServers(tag)).find((s) => s.id === created.id);
    }
    t.is(found?.status, 'ACTIVE');
    if (f.addressed) t.regex(found?.address ?? '', /^[0-9a-f.:]+$/);
    else t.is(found?.address, null);
    t.is(found?.metadata['daaas:vm'], 'a1');
    t.true(found?.tags.includes(tag));
    await f.cloud.deleteServer(created.id);
  }));

  test(`${name}: listing filters by tag and walks every page`, withFixture(async (t, f) => {
    const tag = uniqueTag();
    const other = uniqueTag();
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await f.cloud.createServer(request(f, tag, `p${i}`))).id);
    const stranger = await f.cloud.createServer(request(f, other, 'x'));
    // Complete once scheduling settles: a real Nova may leave out a server moving to its cell.
    let listed = await f.cloud.listServers(tag);
    for (let waited = 0; listed.length < ids.length && waited < f.bootMs; waited += f.bootMs / 20) {
      await f.advance(f.bootMs / 20);
      listed = await f.cloud.listServers(tag);
    }
    t.deepEqual(listed.map((s) => s.id).sort(), [...ids].sort());
    for (const id of ids) t.is((await f.cloud.getServer(id))?.id, id);
    t.is(await f.cloud.getServer('00000000-0000-0000-0000-000000000000'), null);
    for (const id of [...ids, stranger.id]) await f.cloud.deleteServer(id);
  }));

  test(`${name}: deleting is idempotent and the server leaves the list`, withFixture(async (t, f) => {
    const tag = uniqueTag();
    const created = await f.cloud.createServer(request(f, tag, 'd1'));
    await f.cloud.deleteServer(created.id);
    await f.cloud.deleteServer(created.id);
    const remaining = (await f.cloud.listServers(tag)).filter((s) => s.id === created.id && s.status !== 'DELETED');
    t.deepEqual(remaining, []);
  }));

  test(`${name}: changes since a time: tagged servers created since, and a deleted one as DELETED (untagged), nothing from later`, withFixture(async (t, f) => {
    const tag = uniqueTag();
    const kept = await f.cloud.createServer(request(f, tag, 'c1'));
    const doomed = await f.cloud.createServer(request(f, tag, 'c2'));
    const stranger = await f.cloud.createServer(request(f, uniqueTag(), 'c3'));
    let listed = await f.cloud.listServers(tag);
    for (let waited = 0; listed.length < 2 && waited < f.bootMs; waited += f.bootMs / 20) {
      await f.advance(f.bootMs / 20);
      listed = await f.cloud.listServers(tag);
    }
    // The window opens before they were made, by the cloud's own clock (Nova's times are whole seconds).
    const since = Math.min(...listed.map((s) => s.createdAt)) - 2000;
    const changes = await f.cloud.listChanges(tag, since);
    t.deepEqual(changes.filter((s) => s.status !== 'DELETED').map((s) => s.id).sort(), [kept.id, doomed.id].sort());
    t.false(changes.some((s) => s.id === stranger.id), 'a server with another tag that is not deleted is not reported');

    await f.cloud.deleteServer(doomed.id);
    for (let waited = 0; (await f.cloud.getServer(doomed.id)) !== null && waited < f.bootMs * 4; waited += f.bootMs / 20) await f.advance(f.bootMs / 20);
    const after = await f.cloud.listChanges(tag, since);
    const gone = after.filter((s) => s.id === doomed.id);
    t.is(gone.length, 1);
    t.is(gone[0]?.status, 'DELETED');
    t.not(after.find((s) => s.id === kept.id)?.status, 'DELETED');
    t.false(after.some((s) => s.id === stranger.id));
    t.false((await f.cloud.listChanges(tag, since + 86_400_000)).some((s) => s.id === kept.id || s.id === doomed.id), 'nothing changed after tomorrow');
    for (const id of [kept.id, stranger.id]) await f.cloud.deleteServer(id);
  }));

  test(`${name}: an unknown flavour or image is a CloudError with the cloud's status`, withFixture(async (t, f) => {
    const tag = uniqueTag();
    const badFlavor = await t.throwsAsync(f.cloud.createServer({ ...request(f, tag, 'b1'), flavor: 'no-such-flavor' }), { instanceOf: CloudError });
    t.is(badFlavor?.status, 400);
    const badImage = await t.throwsAsync(f.cloud.createServer({ ...request(f, tag, 'b2'), image: 'no-such-image' }), { instanceOf: CloudError });
    t.is(badImage?.status, 400);
    t.deepEqual(await f.cloud.listServers(tag), []);
  }));

  test(`${name}: limits count what is used and flavours report their cores`, withFixture(async (t, f) => {
    const before = await f.cloud.limits();
    const cores = await f.cloud.flavorCores(f.flavor);
    t.true(cores > 0);
    const created = await f.cloud.createServer(request(f, uniqueTag(), 'l1'));
    // A real Nova counts a server once its build is scheduled, a moment after the boot request.
    let after = await f.cloud.limits();
    for (let waited = 0; after.usedInstances === before.usedInstances && waited < f.bootMs; waited += f.bootMs / 20) {
      await f.advance(f.bootMs / 20);
      after = await f.cloud.limits();
    }
    t.is(after.usedInstances, before.usedInstances + 1);
    t.is(after.usedCores, before.usedCores + cores);
    t.true(after.maxInstances >= after.usedInstances);
    await f.cloud.deleteServer(created.id);
    await t.throwsAsync(f.cloud.flavorCores('no-such-flavor'), { instanceOf: CloudError });
  }));
}
