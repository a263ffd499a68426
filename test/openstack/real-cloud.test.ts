/**
 * The real-cloud suite: the Cloud contract, the bot's scenarios and the bot itself, on the
 * OpenStack cloud the environment names (OS_CLOUD, or OS_AUTH_URL and friends). It runs in
 * `npm test` whenever one is configured, and `npm run test:cloud` insists on one. The tests
 * run one at a time: they share the cloud project and its quota.
 *
 * DAAAS_TEST_IMAGE and DAAAS_TEST_FLAVOR choose what to boot (excitations-base, m1.small).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { OpenStackCloud } from '../../src/adapters/openstack/openstack-cloud.ts';
import { cloudConfigured, resolveOpenStack } from '../../src/adapters/openstack/os-config.ts';
import { OpenStackSession } from '../../src/adapters/openstack/os-session.ts';
import { SystemClock } from '../../src/adapters/system-clock.ts';
import type { Cloud } from '../../src/ports/cloud.ts';
import { tempDir } from '../helpers/harness.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';
import { cloudContract } from '../ports/cloud-contract.ts';
import { botOn, readyCount, sweep } from './bot-on-openstack.ts';
import { botScenarios } from './scenarios.ts';

const env = process.env;
const image = env.DAAAS_TEST_IMAGE ?? 'excitations-base';
const flavor = env.DAAAS_TEST_FLAVOR ?? 'm1.small';
const HOW = 'set OS_CLOUD (a clouds.yaml entry) or source an openrc (OS_AUTH_URL, OS_USERNAME, …), then run `npm run test:cloud`';

function client() {
  const clock = new SystemClock();
  const session = new OpenStackSession({ settings: resolveOpenStack(env), clock, log: recordingLogger().log });
  return new OpenStackCloud({ session, clock, pageSize: 3 });
}

if (!cloudConfigured(env)) {
  if (env.DAAAS_REQUIRE_CLOUD) {
    test('a real OpenStack cloud is configured', (t) => t.fail(`the real-cloud suite needs a cloud: ${HOW}`));
  } else {
    test.skip(`REAL-CLOUD SUITE NOT RUN: no OpenStack configured. To run it, ${HOW}`, () => {});
  }
} else {
  cloudContract(test.serial, 'real OpenStack', async () => {
    const real = client();
    const created: string[] = [];
    // Every server the contract boots is remembered, so none is left behind even when a test fails.
    const cloud: Cloud = {
      listServers: (tag) => real.listServers(tag),
      listChanges: (tag, since) => real.listChanges(tag, since),
      getServer: (id) => real.getServer(id),
      createServer: async (request) => {
        const server = await real.createServer(request);
        created.push(server.id);
        return server;
      },
      deleteServer: (id) => real.deleteServer(id),
      limits: () => real.limits(),
      imageId: (name) => real.imageId(name),
      flavorCores: (name) => real.flavorCores(name),
    };
    return {
      cloud,
      advance: (ms) => delay(ms),
      flavor,
      image,
      bootMs: 15_000,
      networks: [],
      addressed: false,
      // Waits until they are really gone, so the next test's quota figures hold.
      cleanup: async () => {
        for (const id of created) await real.deleteServer(id);
        const end = Date.now() + 60_000;
        for (const id of created) while ((await real.getServer(id)) !== null && Date.now() < end) await delay(300);
      },
    };
  });

  botScenarios(test.serial, 'real OpenStack', async () => ({ env, image, flavor }));

  test.serial('figures: a pool of 20 fills from empty; API calls per reconcile tick at steady state', async (t) => {
    const bot = botOn({ env, instance: `fill${Math.random().toString(36).slice(2, 6)}`, image, flavor, size: 20, max: 20 });
    try {
      const fillMs = await bot.until(t, 'a pool of 20 full', () => readyCount(bot) === 20, 180_000);
      await bot.app.reconciler.tick();
      const before = new Map(bot.session.calls);
      await bot.app.reconciler.tick();
      const perTick = [...bot.session.calls].map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const).filter(([, n]) => n > 0);
      t.log(`a pool of 20 filled from empty in ${(fillMs / 1000).toFixed(1)} s`);
      t.log(`API calls in one reconcile tick at steady state: ${perTick.map(([op, n]) => `${op} ${n}`).join(', ') || 'none'}`);
      t.deepEqual(perTick, [['list changes', 1]], 'between full walks: one changes-since request');
    } finally {
      await bot.close();
      await sweep(bot.cloud, bot.app.reconciler.tag);
    }
  });

  test.serial('changes-since between two ticks: a ready VM’s server deleted behind the bot’s back is seen as DELETED, with one changes request and no full walk', async (t) => {
    const bot = botOn({ env, instance: `chg${Math.random().toString(36).slice(2, 6)}`, image, flavor, size: 2, max: 2 });
    try {
      await bot.until(t, 'a pool of 2 full', () => readyCount(bot) === 2, 180_000);
      const since = Date.now() - 60_000;
      // Two quiet ticks, so the one that matters follows a tick that read changes, not a walk.
      await bot.app.reconciler.tick();
      await bot.app.reconciler.tick();
      const vm = bot.store.listVms({ states: ['ready'] })[0]!;
      await bot.cloud.deleteServer(vm.serverId!);
      const end = Date.now() + 60_000;
      while ((await bot.cloud.getServer(vm.serverId!)) !== null && Date.now() < end) await delay(300);
      t.is(await bot.cloud.getServer(vm.serverId!), null, 'gone from the cloud: only changes-since can still tell');
      const reported = (await bot.cloud.listChanges(bot.app.reconciler.tag, since)).find((s) => s.id === vm.serverId);
      t.is(reported?.status, 'DELETED');
      t.deepEqual(reported?.tags, [], 'Nova strips a deleted server’s tags: asked without the tag filter');
      const before = new Map(bot.session.calls);
      await bot.app.reconciler.tick();
      const perTick = Object.fromEntries([...bot.session.calls].map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const).filter(([, n]) => n > 0));
      t.log(`API calls in the tick that saw the deletion: ${JSON.stringify(perTick)}`);
      t.is(perTick['list changes'], 1);
      t.is(perTick['list servers'], undefined, 'no full walk');
      t.is(bot.store.getVm(vm.id)?.state, 'failed');
      t.regex(bot.store.getVm(vm.id)?.detail ?? '', /disappeared/);
    } finally {
      await bot.close();
      await sweep(bot.cloud, bot.app.reconciler.tag);
    }
  });

  test.serial('the bot as a process: fills its pool with Nova servers, a claim gets one, a release deletes it, a restart adopts what it had booted', async (t) => {
    const dir = tempDir();
    t.teardown(dir.remove);
    const instance = `e2e${Math.random().toString(36).slice(2, 6)}`;
    const config = join(dir.path, 'config.yaml');
    writeFileSync(
      config,
      `instance: ${instance}
access: { admins: [], localUserIsAdmin: true, groups: { physics: [alice] } }
scheduler: { poll: 500ms }
cloud: { driver: openstack }
provisioner: { driver: simulated, simulated: { provisionTime: 200ms } }
pools:
  physics:
    image: ${image}
    flavor: ${flavor}
    networks: []
    size: 2
    max: 4
    groups: [physics]
    owner: { name: Physics, contact: physics@facility.example }
`,
    );
    const cloud = client();
    const tag = `daaas:${instance}`;
    const run = (args: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
        env: { ...env, DAAAS_CONFIG: config, DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_PORT: '0', DAAAS_LOG_LEVEL: 'debug' },
        stdio: 'pipe',
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      t.teardown(() => {
        if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
      });
      return { child, out: () => out, exit };
    };
    const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 90_000) => {
      const end = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await delay(300);
      }
    };
    try {
      // First life: killed as soon as its boots were requested.
      const first = run(['--no-shell']);
      await until('the first boots', async () => (await cloud.listServers(tag)).length === 2);
      first.child.kill('SIGKILL');
      await first.exit;
      const booted = (await cloud.listServers(tag)).map((s) => s.id).sort();

      // Second life: adopts them, serves a claim and a release.
      const second = run(['--user', 'alice']);
      const readyLogged = () => {
        try {
          return readFileSync(join(dir.path, 'var', 'daaas.log'), 'utf8').split('"msg":"ready"').length - 1;
        } catch {
          return 0;
        }
      };
      await until('both VMs ready', () => readyLogged() >= 2);
      t.deepEqual((await cloud.listServers(tag)).map((s) => s.id).sort(), booted, 'adopted: no server added, none lost');
      second.child.stdin.write('claim physics\n');
      await until('the claim answer', () => /is yours/.test(second.out()));
      const vm = /(physics-\w{4}) is yours/.exec(second.out())?.[1];
      t.truthy(vm, second.out());
      const claimedServer = (await cloud.listServers(tag)).find((s) => s.name === vm);
      t.truthy(claimedServer, 'the claimed VM is a Nova server of that name');
      second.child.stdin.write(`release ${vm} --yes\n`);
      await until('the release answer', () => /released/.test(second.out()));
      await until('the released server deleted and the pool refilled', async () => {
        const now = await cloud.listServers(tag);
        return !now.some((s) => s.id === claimedServer!.id) && now.filter((s) => s.status === 'ACTIVE').length === 2;
      });
      second.child.stdin.end();
      t.is(await second.exit, 0, second.out());
      const log = readFileSync(join(dir.path, 'var', 'daaas.log'), 'utf8');
      t.true(log.includes('"msg":"cloud call"'), 'the debug log has the cloud calls');
      const password = env.OS_PASSWORD ?? env.OS_APPLICATION_CREDENTIAL_SECRET;
      if (password) t.false(log.includes(password), 'no password in the log');
      t.notRegex(log, /gAAAAA|x-auth-token|x-subject-token/i, 'no token in the log');
    } finally {
      await sweep(cloud, tag);
    }
  });
}
