/**
 * SIGTERM while Ansible plays run, on the bot as a process (`--no-shell`, as the service runs):
 * a provision play that would run for minutes is cancelled with its whole process group, the bot
 * exits 0 within seconds and frees the data directory, and the next start — with the real
 * playbooks — provisions the VM the stop interrupted.
 */
import avaTest from 'ava';
import { execa } from 'execa';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ANSIBLE_DIR, ansibleSuite, makeSandbox, testAnsibleDir } from '../adapters/ansible/sandbox.ts';
import { startBot, until } from '../helpers/bot-process.ts';
import { tempDir } from '../helpers/harness.ts';

const test = ansibleSuite(avaTest, 'the SIGTERM-while-plays-run test', 'test/e2e/ansible-stop.test.ts');

/** A sleep no other process on the machine runs: how the test finds the play's task afterwards. */
const SLEEP_FOR = `${300 + Math.floor(Math.random() * 600)}.4343`;
const PLAY = (name: string, sleep: boolean) => `
- hosts: all
  gather_facts: false
  tasks:
    - name: ${name}
      ansible.builtin.${sleep ? `command:\n        argv: [sleep, "${SLEEP_FOR}"]` : 'debug:\n        msg: done'}
`;

function config(dir: string, ansibleDir: string, sandboxRoot: string): string {
  const path = join(dir, `config-${readdirSync(dir).length}.yaml`);
  writeFileSync(
    path,
    `
access: { admins: [], groups: { excitations: ['*'] } }
scheduler: { poll: 200ms, maxConcurrentBoots: 4 }
cloud:
  driver: simulated
  simulated: { bootTime: 100ms, latency: 0, flavors: { c1.large: { vcpus: 4 } }, images: [excitations-base] }
provisioner: { driver: ansible, ansible: { dir: ${ansibleDir}, target: local, sandboxRoot: ${sandboxRoot} } }
pools:
  excitations:
    image: excitations-base
    flavor: c1.large
    size: 1
    max: 1
    groups: [excitations]
    owner: { name: Excitations, contact: excitations@facility.example }
`,
  );
  return path;
}

async function processesRunning(commandLine: string): Promise<number> {
  const { stdout } = await execa('ps', ['-eo', 'args=']);
  return stdout.split('\n').filter((l) => l.trim() === commandLine).length;
}

test('SIGTERM while a provision play runs: the play is cancelled with its processes, the bot exits 0 within seconds, and the next start provisions the VM', async (t) => {
  const dir = tempDir();
  const sandbox = makeSandbox();
  const hanging = testAnsibleDir({ 'provision.yml': PLAY('provision for minutes', true), 'claim.yml': PLAY('claim', false), 'release.yml': PLAY('release', false) });
  t.teardown(() => {
    hanging.remove();
    sandbox.remove();
    dir.remove();
  });
  const dataDir = join(dir.path, 'var');
  const env = { DAAAS_DATA_DIR: dataDir, DAAAS_HOST: '127.0.0.1' };

  const first = startBot(t, { ...env, DAAAS_CONFIG: config(dir.path, hanging.path, sandbox.root) }, ['--no-shell']);
  await until('a provision play has started', () => /"playbook":"provision\.yml".*"msg":"ansible-playbook started"/.test(first.stdout()), 120_000);
  // Until its task runs: the stop must end the commands the play started, not only Ansible.
  for (const end = Date.now() + 60_000; (await processesRunning(`sleep ${SLEEP_FOR}`)) === 0; ) {
    if (Date.now() > end) throw new Error('the play never reached its task');
    await delay(200);
  }
  const stopping = performance.now();
  first.child.kill('SIGTERM');
  t.is(await first.exit, 0, first.stderr());
  const seconds = (performance.now() - stopping) / 1000;
  t.log(`stopped ${seconds.toFixed(1)} s after SIGTERM with a provision play running (it would have run ${Math.round(Number(SLEEP_FOR))} s)`);
  t.regex(first.stdout(), /"msg":"stopped"/);
  t.is(await processesRunning(`sleep ${SLEEP_FOR}`), 0, 'the play\'s task was ended with its process group');
  // Not waited for: the play, which would have run for minutes, was cancelled (its log says so).
  t.regex(first.stdout(), /provision\.yml on excitations-\w+ was cancelled during task \\"provision for minutes\\"/);
  t.notRegex(first.stdout(), /provisioning failed|"msg":"VM failed/, 'an interrupted play is not a failed VM');
  const logs = readdirSync(join(dataDir, 'ansible-logs'));
  t.is(logs.length, 1);
  t.regex(readFileSync(join(dataDir, 'ansible-logs', logs[0]!), 'utf8'), /stopping: cancelled/);

  // The data directory is free, and the interrupted VM is provisioned by the next start, with the real plays.
  const second = startBot(t, { ...env, DAAAS_CONFIG: config(dir.path, ANSIBLE_DIR, sandbox.root) }, ['--no-shell']);
  await until('the interrupted VM is ready', () => /"msg":"ready"/.test(second.stdout()), 180_000);
  t.notRegex(second.stdout(), /"msg":"VM failed/);
  const vm = /"vm":"(excitations-\w+)","readyMs"/.exec(second.stdout())?.[1];
  t.regex(first.stdout(), new RegExp(`provision\\.yml on ${vm} was cancelled`), 'the same VM, resumed rather than replaced');
  second.child.kill('SIGTERM');
  t.is(await second.exit, 0);
});
