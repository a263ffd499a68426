/**
 * The scheduler with the simulated cloud and the real Ansible provisioner: pools fill through
 * real provision.yml runs, a claim runs the real claim.yml, a release runs release.yml — all
 * against a sandbox directory on this machine (connection local).
 */
import avaTest from 'ava';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SimCloud } from '../../src/adapters/sim-cloud/sim-cloud.ts';
import { AnsibleProvisioner, sandboxVars } from '../../src/adapters/ansible/ansible-provisioner.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { SystemClock } from '../../src/adapters/system-clock.ts';
import { createApp } from '../../src/app.ts';
import { renderText } from '../../src/chat/shell/render-text.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { ansibleSuite, makeRunner, makeSandbox, throwawayAccount } from '../adapters/ansible/sandbox.ts';
import { RecordingNotifier } from '../helpers/harness.ts';

const test = ansibleSuite(avaTest, 'the Ansible end-to-end test', 'test/e2e/ansible.test.ts');

test('pools fill through real provision plays; a claim runs the real claim play and the user is told when their home is ready', async (t) => {
  const sandbox = makeSandbox();
  const account = throwawayAccount();
  t.teardown(async () => {
    await account.remove();
    sandbox.remove();
  });
  const clock = new SystemClock();
  const config = parseConfig(
    `
access: { admins: [root], groups: { excitations: ['*'] } }
scheduler: { poll: 200ms, maxConcurrentBoots: 4 }
cloud:
  driver: simulated
  simulated: { bootTime: 100ms, latency: 0, flavors: { c1.large: { vcpus: 4 } }, images: [excitations-base] }
provisioner: { driver: ansible, ansible: { target: local, sandboxRoot: ${sandbox.root} } }
pools:
  excitations:
    image: excitations-base
    flavor: c1.large
    size: 2
    max: 3
    groups: [excitations]
    owner: { name: Excitations, contact: excitations@facility.example }
`,
    'ansible-e2e.yaml',
    {},
  );
  const cloud = new SimCloud({ clock, bootMs: 100, bootJitter: 0, latencyMs: 0, quota: { instances: 10, cores: 100 }, flavors: { 'c1.large': { vcpus: 4, gpus: 0 } }, images: ['excitations-base'] });
  const runner = makeRunner(sandbox.logDir);
  const provisioner = new AnsibleProvisioner({ runner, target: 'local', extraVars: { ...sandboxVars(sandbox.root), ...account.vars } });
  const store = new SqliteStore(':memory:');
  const app = createApp({ config, store, cloud, provisioner, clock, log: silentLogger });
  const dms = new RecordingNotifier(clock);
  app.notifier.register('test', dms);
  // Messages the bot sends on its own (home ready) are delivered from the outbox, as in the bot.
  app.outbox.start();
  t.teardown(async () => {
    await app.stop();
    store.close();
  });
  const until = async (what: string, done: () => boolean, ms = 120_000) => {
    const end = Date.now() + ms;
    while (!done()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await app.reconciler.tick();
      await delay(200);
    }
  };

  const filling = Date.now();
  await until('the pool filled through provision.yml', () => store.listVms({ states: ['ready'] }).length === 2);
  t.log(`pool of 2 filled through real provision plays in ${((Date.now() - filling) / 1000).toFixed(1)} s`);
  t.true(runner.results.filter((r) => r.playbook === 'provision.yml').every((r) => r.ok));

  const say = async (text: string) => renderText(await app.dispatch({ platform: 'test', account: account.name, conversation: 'dm', text }), { now: clock.now(), timeZone: 'UTC' });
  const claimedAt = Date.now();
  t.regex(await say('claim excitations'), /is yours for 2d/);
  await until('the home directory ready', () => dms.titles(account.name).some((m) => m.endsWith('is ready for you')));
  t.log(`claim to "your home directory is ready": ${((Date.now() - claimedAt) / 1000).toFixed(1)} s`);
  const home = join(sandbox.root, 'home', account.name);
  t.true(existsSync(home));
  t.is(statSync(home).mode & 0o777, 0o700);
  t.regex(JSON.stringify(dms.sent.at(-1)?.message), new RegExp(`home directory .*${account.name} was created for you`));
  t.regex(await say('status'), /Home directory:\s+ready/);

  const [lease] = store.activeLeases({ user: account.name });
  t.regex(await say(`release ${lease!.vm.name} --yes`), /released/);
  await until('the released VM deleted after its release play', () => store.getVm(lease!.vmId)?.state === 'deleted');
  t.true(runner.results.some((r) => r.playbook === 'release.yml' && r.vm === lease!.vm.name && r.ok));
  t.true(existsSync(home), 'the home directory outlives the VM');
  t.regex(renderText(await app.dispatch({ platform: 'test', account: 'root', conversation: 'dm', text: `admin log ${lease!.vm.name}` }), { now: clock.now(), timeZone: 'UTC' }), /release\.yml/);
});
