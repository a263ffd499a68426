import avaTest from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AnsibleMissingError, AnsibleRunError, HostKeyMissingError, INSTALL_HINT, type RunRequest } from '../../../src/adapters/ansible/ansible-runner.ts';
import { generateHostKey } from '../../../src/adapters/ansible/host-keys.ts';
import { UnsafeInputError } from '../../../src/adapters/ansible/safe-vars.ts';
import { tempDir } from '../../helpers/harness.ts';
import { ANSIBLE_DIR, ansibleSuite, logFiles, makeRunner, testAnsibleDir } from './sandbox.ts';

const test = ansibleSuite(avaTest, 'the Ansible runner tests', 'test/adapters/ansible/');

// These tests run the real ansible-playbook. Without it they are listed as not run (see ansibleSuite).
test.before('ansible-playbook is installed', async () => {
  await makeRunner(tempDir().path).check();
});

const PLAYS = {
  'mixed.yml': `
- hosts: all
  gather_facts: false
  tasks:
    - name: say hello
      ansible.builtin.debug:
        msg: hello
    - name: write a file
      ansible.builtin.copy:
        dest: "{{ out_dir }}/written.txt"
        content: "{{ value }}"
    - name: never runs
      ansible.builtin.debug:
        msg: skipped
      when: false
    - name: fail but carry on
      ansible.builtin.command:
        argv: ["false"]
      ignore_errors: true
    - name: fail on purpose
      ansible.builtin.command:
        argv: [sh, -c, "echo the reason >&2; exit 3"]
    - name: after the failure
      ansible.builtin.debug:
        msg: unreachable
`,
  'hang.yml': `
- hosts: all
  gather_facts: false
  tasks:
    - name: hang
      ansible.builtin.command:
        argv: [sleep, "{{ sleep_for }}"]
`,
  'quick.yml': `
- hosts: all
  gather_facts: false
  tasks:
    - name: quick
      ansible.builtin.debug:
        msg: "{{ value }}"
`,
  'ssh-options.yml': `
- hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: report what the connection would use
      ansible.builtin.set_stats:
        data:
          args: "{{ ansible_ssh_common_args }}"
          timeout: "{{ ansible_ssh_timeout | default('') }}"
          known_hosts: "{{ '' if 'UserKnownHostsFile=/dev/null' in ansible_ssh_common_args else lookup('ansible.builtin.file', ansible_ssh_common_args.split('UserKnownHostsFile=')[1].split(' ')[0]) }}"
          control_path_dir: "{{ lookup('ansible.builtin.env', 'ANSIBLE_SSH_CONTROL_PATH_DIR') }}"
`,
  'template.yml': `
- hosts: all
  gather_facts: false
  tasks:
    - name: write the value
      ansible.builtin.copy:
        dest: "{{ out_dir }}/value.txt"
        content: "{{ value }}"
`,
};

function setup(options: Parameters<typeof makeRunner>[1] = {}) {
  const plays = testAnsibleDir(PLAYS);
  const work = tempDir();
  const runner = makeRunner(join(work.path, 'logs'), { ansibleDir: plays.path, ...options });
  return {
    runner,
    work: work.path,
    logDir: join(work.path, 'logs'),
    remove: () => {
      plays.remove();
      work.remove();
    },
  };
}

const local = (playbook: string, vm: string, vars: RunRequest['vars'] = {}): RunRequest => ({ playbook, vm, target: { kind: 'local' }, vars });

/** The processes still running whose command line is exactly this. */
async function processesRunning(commandLine: string): Promise<number> {
  const { stdout } = await execa('ps', ['-eo', 'args=']);
  return stdout.split('\n').filter((l) => l.trim() === commandLine).length;
}

test('syntax-check passes for every playbook in ansible/', async (t) => {
  const runner = makeRunner(tempDir().path);
  for (const playbook of ['provision.yml', 'claim.yml', 'release.yml']) {
    const { ok, output } = await runner.syntaxCheck(playbook);
    t.true(ok, `${playbook}: ${output}`);
  }
  t.true(existsSync(join(ANSIBLE_DIR, 'callback_plugins', 'daaas_jsonl.py')));
});

test('results are parsed per task from the JSON-lines callback; the first real failure is named; the log is kept', async (t) => {
  const { runner, work, logDir, remove } = setup();
  t.teardown(remove);
  const result = await runner.run(local('mixed.yml', 'vm-mixed', { out_dir: work, value: 'hello file' }));

  t.false(result.ok);
  t.is(result.exitCode, 2);
  t.deepEqual(
    result.tasks.map((r) => [r.task, r.status, r.ignored ?? false]),
    [
      ['say hello', 'ok', false],
      ['write a file', 'changed', false],
      ['never runs', 'skipped', false],
      ['fail but carry on', 'failed', true],
      ['fail on purpose', 'failed', false],
    ],
  );
  t.is(result.tasks[0]?.host, 'vm-mixed');
  t.is(result.failed?.task, 'fail on purpose');
  t.is(result.failed?.rc, 3);
  t.regex(result.failed?.msg ?? '', /the reason/);
  // Ansible counts the ignored failure under ok and changed too.
  t.like(result.stats['vm-mixed'], { ok: 3, changed: 2, failures: 1, skipped: 1, ignored: 1 });
  t.is(readFileSync(join(work, 'written.txt'), 'utf8'), 'hello file');

  t.deepEqual(logFiles(logDir).length, 1);
  t.regex(logFiles(logDir)[0]!, /^vm-mixed--\d{8}T\d{6}\.\d{3}Z-\d{3}--mixed\.log$/);
  t.is(result.logFile, join(logDir, logFiles(logDir)[0]!));
  const tail = await runner.lastLog('vm-mixed', 5);
  t.is(tail?.file, result.logFile);
  t.is(tail?.lines.length, 5);
  t.regex(tail!.lines.join('\n'), /FAILED \[vm-mixed\] fail on purpose: .*the reason/);
  t.regex(tail!.lines.join('\n'), /RECAP vm-mixed ok=3 changed=2 failed=1/);
  t.regex(tail!.lines.at(-1)!, /end: exit 2, FAILED in [\d.]+ s$/);
  t.is(await runner.lastLog('vm-other'), undefined);
  // A fresh runner (a restarted bot) finds the newest log on disk.
  t.is((await makeRunner(logDir).lastLog('vm-mixed'))?.file, result.logFile);
});

test('run logs are capped as configured: the newest per VM are kept', async (t) => {
  const { runner, logDir, remove } = setup({ runLogs: { keepPerVm: 2 } });
  t.teardown(remove);
  const results = [];
  for (const n of [1, 2, 3]) results.push(await runner.run(local('quick.yml', 'vm-capped', { value: n })));
  await runner.run(local('quick.yml', 'vm-other', { value: 0 }));
  await runner.logsRotated();
  t.deepEqual(
    logFiles(logDir).filter((f) => f.startsWith('vm-capped--')).map((f) => join(logDir, f)).sort(),
    results.slice(1).map((r) => r.logFile).sort(),
  );
  t.is(logFiles(logDir).filter((f) => f.startsWith('vm-other--')).length, 1, 'another VM\'s logs are counted apart');
});

test('a Jinja-looking value is passed literally: it reaches the play and is never evaluated', async (t) => {
  const { runner, work, remove } = setup();
  t.teardown(remove);
  const marker = join(work, 'templated');
  const value = `{{ lookup('pipe', 'touch ${marker}') }}{% if true %}x{% endif %}`;
  const result = await runner.run(local('template.yml', 'vm-jinja', { out_dir: work, value }));
  t.true(result.ok, JSON.stringify(result.failed));
  t.is(readFileSync(join(work, 'value.txt'), 'utf8'), value);
  t.false(existsSync(marker), 'the lookup never ran');

  // The control: the same kind of value in a plain -e @file IS evaluated by Ansible.
  const raw = join(work, 'raw.json');
  writeFileSync(raw, JSON.stringify({ out_dir: work, value: '{{ 6 * 7 }}' }));
  await execa('ansible-playbook', ['-i', 'localhost,', '-c', 'local', '-e', `@${raw}`, 'template.yml'], {
    cwd: runner.ansibleDir,
    env: { ANSIBLE_CONFIG: join(runner.ansibleDir, 'ansible.cfg') },
  });
  t.is(readFileSync(join(work, 'value.txt'), 'utf8'), '42');
});

test('hostile input is refused before anything is written or started', async (t) => {
  const { runner, logDir, remove } = setup();
  t.teardown(remove);
  const attempts: RunRequest[] = [
    local('quick.yml', 'x; rm -rf /'),
    local('../../etc/passwd', 'vm-1'),
    local('quick.yml', 'vm-1', { "ansible_shell_executable": '/bin/sh' }),
    local('quick.yml', 'vm-1', { value: 'a\nb' }),
    { playbook: 'quick.yml', vm: 'vm-1', target: { kind: 'ssh', address: '10.0.0.1 -oProxyCommand=id' }, vars: {} },
    { playbook: 'quick.yml', vm: 'vm-1', target: { kind: 'ssh', address: '10.0.0.1', user: "{{ lookup('pipe','id') }}" }, vars: {} },
    { playbook: 'quick.yml', vm: 'vm-1', target: { kind: 'ssh', address: '10.0.0.1', privateKeyFile: '../../etc/shadow' }, vars: {} },
  ];
  for (const request of attempts) await t.throwsAsync(runner.run(request), { instanceOf: UnsafeInputError }, JSON.stringify(request));
  t.false(existsSync(logDir), 'not even the log directory was made');
  t.is(runner.running, 0);
});

test('a hanging play is killed at its timeout, with its whole process group', async (t) => {
  const { runner, remove } = setup();
  t.teardown(remove);
  const sleepFor = '61.4242';
  const started = performance.now();
  // Long enough for Ansible to reach the task on a loaded machine (it once took over 4 s to start).
  const error = await t.throwsAsync(runner.run({ ...local('hang.yml', 'vm-hang', { sleep_for: sleepFor }), timeoutMs: 15_000 }), { instanceOf: AnsibleRunError });
  const tookMs = performance.now() - started;
  t.is(error?.reason, 'timeout');
  t.is(error?.message, 'hang.yml on vm-hang timed out after 15 s during task "hang"');
  t.true(tookMs >= 15_000 && tookMs < 40_000, `took ${tookMs} ms`);
  t.is(await processesRunning(`sleep ${sleepFor}`), 0, 'the task\'s command was killed too');
  const tail = await runner.lastLog('vm-hang');
  t.regex(tail!.lines.join('\n'), /stopping: timed out after 15 s/);
  t.is(runner.running, 0);
});

test('a run is cancelled by its signal', async (t) => {
  const { runner, remove } = setup();
  t.teardown(remove);
  const sleepFor = '62.4242';
  const controller = new AbortController();
  const run = runner.run({ ...local('hang.yml', 'vm-cancel', { sleep_for: sleepFor }), signal: controller.signal });
  // Cancel once the hanging task has started.
  for (let i = 0; i < 300; i++) {
    if ((await runner.lastLog('vm-cancel'))?.lines.some((l) => l.includes('TASK hang'))) break;
    await delay(100);
  }
  controller.abort();
  const error = await t.throwsAsync(run, { instanceOf: AnsibleRunError });
  t.is(error?.reason, 'cancelled');
  t.is(error?.message, 'hang.yml on vm-cancel was cancelled during task "hang"');
  t.is(await processesRunning(`sleep ${sleepFor}`), 0);
  await t.throwsAsync(runner.run({ ...local('quick.yml', 'vm-cancel'), signal: AbortSignal.abort() }), { instanceOf: AnsibleRunError, message: /cancelled before it started/ });
});

test('concurrent runs respect the limit; the rest queue, and a queued run can be cancelled without starting', async (t) => {
  const { runner, logDir, remove } = setup({ maxConcurrent: 1 });
  t.teardown(remove);
  let maxRunning = 0;
  const sampler = setInterval(() => (maxRunning = Math.max(maxRunning, runner.running)), 20);
  t.teardown(() => clearInterval(sampler));

  const controller = new AbortController();
  const runs = [1, 2].map((n) => runner.run(local('quick.yml', `vm-q${n}`, { value: n })));
  const doomed = runner.run({ ...local('quick.yml', 'vm-q3'), signal: controller.signal });
  t.is(runner.running, 1);
  t.is(runner.queued, 2);
  controller.abort();
  await t.throwsAsync(doomed, { instanceOf: AnsibleRunError, message: /vm-q3 was cancelled before it started \(waiting for a free slot\)/ });
  t.is(runner.queued, 1);

  const results = await Promise.all(runs);
  clearInterval(sampler);
  t.true(results.every((r) => r.ok));
  t.is(maxRunning, 1);
  t.deepEqual(results.map((r) => r.tasks[0]?.msg), ['1', '2']);
  t.false(logFiles(logDir).some((f) => f.startsWith('vm-q3--')), 'the cancelled run never started');
  // One after the other: the second started only after the first ended.
  const firstEnd = readFileSync(results[0]!.logFile, 'utf8').trim().split('\n').at(-1)!.slice(0, 24);
  const secondStart = readFileSync(results[1]!.logFile, 'utf8').split('\n')[0]!.slice(0, 24);
  t.true(secondStart >= firstEnd, `${secondStart} >= ${firstEnd}`);
});

test('without ansible-playbook, check and run fail saying what to install', async (t) => {
  const { runner, logDir, remove } = setup({ command: '/nonexistent/ansible-playbook' });
  t.teardown(remove);
  const expected = `ansible-playbook is not installed (could not run "/nonexistent/ansible-playbook"). Install it with: ${INSTALL_HINT}`;
  t.is(INSTALL_HINT, 'apt-get install --no-install-recommends ansible-core');
  await t.throwsAsync(runner.check(), { instanceOf: AnsibleMissingError, message: expected });
  await t.throwsAsync(runner.run(local('quick.yml', 'vm-none')), { instanceOf: AnsibleMissingError, message: expected });
  await t.throwsAsync(runner.syntaxCheck('quick.yml'), { instanceOf: AnsibleMissingError });
  t.is(runner.running, 0);
  t.regex((await runner.lastLog('vm-none'))!.lines.join('\n'), /not installed/);
  t.is(logFiles(logDir).length, 1);
});

test('over SSH a run pins the VM\'s key in a known_hosts file of its own, checks strictly, and uses its own control sockets', async (t) => {
  const { runner, remove } = setup();
  t.teardown(remove);
  const { publicKey } = generateHostKey();
  const target = { kind: 'ssh' as const, address: '10.0.0.5', user: 'debian', port: 2222, privateKeyFile: '/etc/daaas/id_ed25519', hostKey: publicKey, connectTimeoutS: 12 };
  const result = await runner.run({ playbook: 'ssh-options.yml', vm: 'vm-ssh', target, vars: {} });
  t.true(result.ok, result.errorOutput);
  const seen = result.custom._run as { args: string; timeout: string; known_hosts: string; control_path_dir: string };
  t.is(seen.known_hosts.trim(), `[10.0.0.5]:2222 ${publicKey}`, 'only this VM\'s key, at its address and port');
  for (const option of ['-o GlobalKnownHostsFile=/dev/null', '-o StrictHostKeyChecking=yes', '-o HostKeyAlgorithms=ssh-ed25519', '-o BatchMode=yes']) t.true(seen.args.includes(option), option);
  t.regex(seen.args, /-o UserKnownHostsFile=\/\S+\/known_hosts/);
  t.is(String(seen.timeout), '12');
  t.regex(seen.control_path_dir, /daaas-ansible-[^/]+\/cp$/, 'control sockets per run, never shared between runs');

  const jumped = await runner.run({ playbook: 'ssh-options.yml', vm: 'vm-ssh', target: { ...target, jumpHost: { host: 'bastion.facility.example', port: 2200, knownHostsFile: '/etc/daaas/bastion_known_hosts' } }, vars: {} });
  t.regex(
    (jumped.custom._run as { args: string }).args,
    /-o ProxyCommand="ssh -o BatchMode=yes -o UserKnownHostsFile=\/etc\/daaas\/bastion_known_hosts -o GlobalKnownHostsFile=\/dev\/null -o StrictHostKeyChecking=yes -o ConnectTimeout=12 -i \/etc\/daaas\/id_ed25519 -l debian -p 2200 -W \[%h\]:%p bastion\.facility\.example"/,
  );
});

test('over SSH with no pinned key the run is refused before anything is written; with checking off it is not, and nothing is recorded', async (t) => {
  const { runner, logDir, remove } = setup();
  t.teardown(remove);
  const target = { kind: 'ssh' as const, address: '10.0.0.5', user: 'debian' };
  await t.throwsAsync(runner.run({ playbook: 'ssh-options.yml', vm: 'vm-ssh', target, vars: {} }), { instanceOf: HostKeyMissingError, message: /no host key is pinned for vm-ssh/ });
  await t.throwsAsync(runner.run({ playbook: 'ssh-options.yml', vm: 'vm-ssh', target: { ...target, hostKey: 'ssh-rsa AAAAB3Nza' }, vars: {} }), { message: /not an ssh-ed25519 public key/ });
  t.false(existsSync(logDir), 'nothing was started, not even a log');

  const off = makeRunner(join(logDir, 'off'), { ansibleDir: runner.ansibleDir, hostKeyChecking: false });
  const result = await off.run({ playbook: 'ssh-options.yml', vm: 'vm-ssh', target, vars: {} });
  t.true(result.ok, result.errorOutput);
  const args = (result.custom._run as { args: string }).args;
  t.true(args.includes('-o UserKnownHostsFile=/dev/null') && args.includes('-o StrictHostKeyChecking=no'));
});
