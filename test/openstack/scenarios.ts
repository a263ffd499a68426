import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { META } from '../../src/core/plan-pools.ts';
import { tempDir } from '../helpers/harness.ts';
import type { Register } from '../ports/cloud-contract.ts';
import { botOn, readyCount, sweep, type Bot, type BotOptions } from './bot-on-openstack.ts';

export interface Target {
  env: BotOptions['env'];
  image: string;
  flavor: string;
}

const unique = () => `t${Math.random().toString(36).slice(2, 8)}`;

/**
 * What the bot must do on any OpenStack: the scenarios of the real-cloud suite, also run on
 * the fake API in `npm test`.
 */
export function botScenarios(test: Register, name: string, target: () => Promise<Target>): void {
  const withBot = (size: number, fn: (t: ExecutionContext, bot: Bot, options: BotOptions) => Promise<void>) => async (t: ExecutionContext) => {
    const options: BotOptions = { ...(await target()), instance: unique(), size, pageSize: 3 };
    const bot = botOn(options);
    try {
      await fn(t, bot, options);
    } finally {
      await bot.close();
      await sweep(bot.cloud, bot.app.reconciler.tag);
    }
  };

  test(`${name}: the bot fills its pool with servers, a claim gets one, a release deletes it`, withBot(3, async (t, bot) => {
    await bot.until(t, 'pool full', () => readyCount(bot) === 3);
    const servers = await bot.servers();
    t.is(servers.length, 3);
    t.true(servers.every((s) => s.status === 'ACTIVE' && s.metadata[META.pool] === 'physics' && s.metadata[META.managedBy] === bot.app.reconciler.tag.slice('daaas:'.length)));
    t.regex(await bot.say('alice', 'claim physics'), /is yours/);
    const [claimed] = bot.store.listVms({ states: ['claimed'] });
    t.truthy(claimed?.serverId);
    t.regex(await bot.say('alice', `release ${claimed!.name} --yes`), /released/i);
    await bot.until(t, 'released server gone and pool full again', async () => {
      const now = await bot.servers();
      return !now.some((s) => s.id === claimed!.serverId) && readyCount(bot) === 3;
    });
  }));

  test(`${name}: a restart adopts the bot's servers instead of leaking or duplicating them`, async (t) => {
    const dir = tempDir();
    t.teardown(dir.remove);
    const options: BotOptions = { ...(await target()), instance: unique(), size: 3, storePath: join(dir.path, 'daaas.db') };
    const first = botOn(options);
    try {
      await first.app.reconciler.tick(); // boots requested, then the bot "dies"
      await first.close();
      const booted = await first.servers();
      t.is(booted.length, 3);
      const second = botOn(options);
      try {
        await second.until(t, 'pool full after restart', () => readyCount(second) === 3);
        const after = await second.servers();
        t.deepEqual(after.map((s) => s.id).sort(), booted.map((s) => s.id).sort(), 'the same servers, none added or lost');
      } finally {
        await second.close();
      }
    } finally {
      await sweep(first.cloud, first.app.reconciler.tag);
    }
  });

  test(`${name}: a pool removed from the configuration (renamed by mistake): its claimed server stays until the lease ends, the others go, nothing leaks`, async (t) => {
    const dir = tempDir();
    t.teardown(dir.remove);
    const options: BotOptions = { ...(await target()), instance: unique(), size: 2, storePath: join(dir.path, 'daaas.db'), lease: '1h' };
    const first = botOn(options);
    let second: Bot | undefined;
    try {
      await first.until(t, 'pool full', () => readyCount(first) === 2);
      await first.say('alice', 'claim physics');
      const [claimed] = first.store.listVms({ pool: 'physics', states: ['claimed'] });
      t.truthy(claimed?.serverId, 'alice holds a VM of physics');
      const lease = first.store.activeLeases({ user: 'alice' })[0]!;
      await first.close();
      second = botOn({ ...options, pool: 'physic' });
      const bot = second;
      await bot.until(t, 'the removed pool down to its claimed VM, the renamed one full', async () => {
        const left = bot.store.listVms({ pool: 'physics' });
        const servers = await bot.servers();
        const retiredServers = servers.filter((s) => s.metadata[META.pool] === 'physics' && s.status !== 'DELETED');
        return left.length === 1 && left[0]!.id === claimed!.id && retiredServers.length === 1 && readyCount(bot, 'physic') === 2;
      });
      t.is((await bot.cloud.getServer(claimed!.serverId!))?.status, 'ACTIVE', 'the claimed server is untouched');
      t.is(bot.store.getLease(lease.id)?.endedAt, null, 'its lease goes on');
      t.regex(await bot.say('alice', 'extend'), /being retired|removed from the configuration/);
      t.is(bot.store.outboxMessages({ leaseId: lease.id }).filter((m) => m.kind === 'pool-retired').length, 1, 'the holder is told once');
      // The hour passes: the lease's expiry is moved to now, and the bot's next tick ends it as it would have.
      t.true(bot.store.extendLease(lease.id, Date.now(), lease.extensionsUsed, false));
      await bot.until(t, 'the lease ended and nothing of the removed pool is left, in the store or the cloud', async () => {
        const servers = await bot.servers();
        return bot.store.listVms({ pool: 'physics' }).length === 0 && !servers.some((s) => s.metadata[META.pool] === 'physics');
      });
      const servers = (await bot.servers()).filter((s) => s.status !== 'DELETED');
      t.deepEqual(servers.map((s) => s.metadata[META.pool]), ['physic', 'physic'], 'only the renamed pool’s servers are left');
      t.deepEqual(servers.map((s) => s.id).sort(), bot.store.listVms({ states: ['ready'] }).map((vm) => vm.serverId).sort(), 'cloud and store agree one to one');
    } finally {
      await second?.close();
      await sweep(first.cloud, first.app.reconciler.tag);
    }
  });

  test(`${name}: a server deleted behind the bot's back is noticed and replaced`, withBot(2, async (t, bot) => {
    await bot.until(t, 'pool full', () => readyCount(bot) === 2);
    const [victim] = bot.store.listVms({ states: ['ready'] });
    await bot.cloud.deleteServer(victim!.serverId!);
    await bot.until(t, 'the lost VM noticed', () => bot.store.getVm(victim!.id)?.state !== 'ready');
    t.regex(bot.store.getVm(victim!.id)?.detail ?? '', /disappeared/);
    await bot.until(t, 'pool full again', async () => readyCount(bot) === 2 && (await bot.servers()).filter((s) => s.status !== 'DELETED').length === 2);
  }));

  test(`${name}: a stranger's servers, untagged or another deployment's, are never touched`, withBot(1, async (t, bot, options) => {
    const base = { image: options.image, flavor: options.flavor, networks: [], metadata: { [META.managedBy]: 'someone-else', [META.pool]: 'physics', [META.vm]: 'x' } };
    const untagged = await bot.cloud.createServer({ ...base, name: `stranger-${options.instance}`, tags: [] });
    const otherTag = `daaas:${unique()}`;
    const other = await bot.cloud.createServer({ ...base, name: `other-${options.instance}`, tags: [otherTag] });
    try {
      await bot.until(t, 'pool full', () => readyCount(bot) === 1);
      for (let i = 0; i < 3; i++) await bot.app.reconciler.tick();
      t.not((await bot.cloud.getServer(untagged.id))?.status ?? 'DELETED', 'DELETED');
      t.not((await bot.cloud.getServer(other.id))?.status ?? 'DELETED', 'DELETED');
    } finally {
      await bot.cloud.deleteServer(untagged.id);
      await sweep(bot.cloud, otherTag);
    }
  }));
}
