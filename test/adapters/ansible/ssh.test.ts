/**
 * The production path: the real plays over SSH, against a real sshd on 127.0.0.1 that stands in
 * for a freshly booted VM and holds the host key the bot generated for it (as cloud-init would
 * install it from the user data). The provisioner is built from configuration by the same code
 * as the bot's (buildProvisioner), so the SSH options are the ones production uses. The plays'
 * sandbox variables keep them inside a sandbox directory. Listed as not run without ansible-playbook
 * or sshd (see ansibleSuite and sshdSuite).
 */
import avaTest, { type ExecutionContext } from 'ava';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AnsiblePlayError } from '../../../src/adapters/ansible/ansible-provisioner.ts';
import { HostKeyMissingError } from '../../../src/adapters/ansible/ansible-runner.ts';
import { generateHostKey } from '../../../src/adapters/ansible/host-keys.ts';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import { buildProvisioner } from '../../../src/compose.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import type { Vm } from '../../../src/core/model.ts';
import type { Provisioner } from '../../../src/ports/provisioner.ts';
import { recordingLogger } from '../../helpers/recording-logger.ts';
import { tempDir } from '../../helpers/harness.ts';
import { ansibleSuite, makeSandbox, poolFor, throwawayAccount, vmFor } from './sandbox.ts';
import { sshdSuite, startSshd, type Sshd } from './sshd.ts';

const FILES = 'test/adapters/ansible/ssh.test.ts';
const ansibleTest = ansibleSuite(avaTest, 'the Ansible-over-SSH tests', FILES);
const test = sshdSuite(ansibleTest, 'the Ansible-over-SSH tests', FILES);

const signal = () => new AbortController().signal;

interface Built {
  provisioner: Provisioner;
  root: string;
  logDir: string;
  logged: () => string;
}

/** The provisioner as the bot builds it from its configuration, reaching VMs at their address. */
async function build(t: ExecutionContext, ssh: string, extra: { hostKeyChecking?: boolean; extraVars?: Record<string, string | boolean> } = {}): Promise<Built> {
  const sandbox = makeSandbox();
  const data = tempDir('daaas-ssh-data-');
  t.teardown(() => {
    sandbox.remove();
    data.remove();
  });
  const config = parseConfig(
    `
access: { admins: [root], groups: { excitations: ['*'] } }
cloud: { driver: simulated, simulated: { flavors: { c1.large: { vcpus: 4 } }, images: [excitations-base] } }
provisioner:
  driver: ansible
  ansible:
    target: address
    sandboxRoot: ${sandbox.root}
    ssh: ${ssh}
${extra.hostKeyChecking === undefined ? '' : `    hostKeyChecking: ${extra.hostKeyChecking}\n`}    extraVars: ${JSON.stringify({ daaas_become: true, ...extra.extraVars })}
pools:
  excitations: { image: excitations-base, flavor: c1.large, size: 1, max: 2, groups: [excitations], owner: { name: Excitations, contact: excitations@facility.example } }
`,
    'ssh-test.yaml',
    {},
  );
  const recording = recordingLogger();
  const provisioner = await buildProvisioner(config, data.path, new SystemClock(), recording.log);
  return { provisioner, root: sandbox.root, logDir: join(data.path, 'ansible-logs'), logged: recording.text };
}

/** A VM booted by the bot: its host key made by the provisioner, given to "the VM" (sshd) from the user data. */
async function bootVm(t: ExecutionContext, provisioner: Provisioner, name: string, serverKey?: { privateKey: string; publicKey: string }): Promise<{ vm: Vm; sshd: Sshd }> {
  const vm = vmFor(name);
  const boot = await provisioner.prepareBoot!(vm);
  t.truthy(boot.userData);
  t.regex(boot.hostKey!, /^ssh-ed25519 AAAA[A-Za-z0-9+/]+=*$/);
  const cloudConfig = parse(boot.userData!) as { ssh_keys: { ed25519_private: string; ed25519_public: string } };
  t.true(boot.userData!.startsWith('#cloud-config\n'));
  t.is(cloudConfig.ssh_keys.ed25519_public, boot.hostKey!);
  // What cloud-init writes to /etc/ssh/ssh_host_ed25519_key; a test may give sshd another key instead.
  const key = serverKey ?? { privateKey: cloudConfig.ssh_keys.ed25519_private, publicKey: cloudConfig.ssh_keys.ed25519_public };
  const sshd = await startSshd(key.privateKey, key.publicKey);
  t.teardown(sshd.stop);
  return { vm: { ...vm, address: '127.0.0.1', hostKey: boot.hostKey! }, sshd };
}

const sshOf = (sshd: Sshd, more = '') => `{ user: ${sshd.user}, port: ${sshd.port}, privateKeyFile: ${sshd.clientKeyFile}, connectTimeout: 10s${more} }`;

test.serial('provision.yml and claim.yml run over SSH, with sudo, against the VM holding the host key the bot gave it', async (t) => {
  // sshd needs the port before the configuration names it: boot with a provisioner made for that port.
  const probe = await build(t, '{ user: probe }');
  const { vm, sshd } = await bootVm(t, probe.provisioner, 'excitations-s1');
  const { provisioner, root, logged } = await build(t, sshOf(sshd));
  t.notRegex(logged(), /HOST KEY CHECKING IS OFF/);
  const account = throwawayAccount();
  t.teardown(account.remove);

  await provisioner.provision(vm, poolFor('excitations'), signal());
  const claimed = await provisioner.personalise(vm, poolFor('excitations'), account.name, signal());
  t.true(claimed.homeCreated);
  t.true(statSync(join(root, 'home', account.name)).isDirectory(), 'the home was made in the sandbox');
  // Logged in as the configured account with its key; `become` through sudo did the rest.
  t.regex(sshd.log(), new RegExp(`Accepted publickey for ${sshd.user} from 127\\.0\\.0\\.1`));
  t.notRegex(sshd.log(), /Failed|Invalid user/);
});

test.serial('a machine answering with another host key is refused before anything is sent to it', async (t) => {
  const probe = await build(t, '{ user: probe }');
  const impostor = generateHostKey();
  const { vm, sshd } = await bootVm(t, probe.provisioner, 'excitations-s2', impostor);
  const { provisioner, root, logDir } = await build(t, sshOf(sshd));
  const before = readdirSync(root).sort();

  const error = await t.throwsAsync(provisioner.provision(vm, poolFor('excitations'), signal()), { instanceOf: AnsiblePlayError });
  t.regex(error!.message, /unreachable/);
  t.regex(error!.message, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key for \S+ has changed/i);
  // The client stopped at the key exchange: it never tried to log in, so no key or command was sent.
  t.notRegex(sshd.log(), /Accepted|Failed|Postponed|publickey/);
  t.deepEqual(readdirSync(root).sort(), before, 'nothing changed in the sandbox');
  t.true(readdirSync(logDir).length > 0, 'the refused run has its log');
});

test.serial('a VM with no pinned host key is refused before anything runs', async (t) => {
  const { provisioner, logDir } = await build(t, '{ user: debian, port: 2222 }');
  const vm: Vm = { ...vmFor('excitations-s3'), hostKey: null };
  await t.throwsAsync(provisioner.provision(vm, poolFor('excitations'), signal()), { instanceOf: HostKeyMissingError, message: /no host key is pinned for excitations-s3/ });
  t.false(existsSync(logDir), 'nothing ran, not even a log was opened');
});

test.serial('through a jump host whose own key is pinned: the plays get through; a wrong bastion key stops them', async (t) => {
  const probe = await build(t, '{ user: probe }');
  const { vm, sshd } = await bootVm(t, probe.provisioner, 'excitations-s4');
  // The same sshd is the bastion: the connection goes to it, then on (ssh -W) to the VM's address.
  const { provisioner } = await build(t, sshOf(sshd, `, jumpHost: { host: 127.0.0.1, port: ${sshd.port}, knownHostsFile: ${sshd.knownHostsFile} }`));
  await provisioner.provision(vm, poolFor('excitations'), signal());
  const logins = sshd.log().match(/Accepted publickey/g) ?? [];
  t.true(logins.length >= 2, `a login on the bastion and one on the VM through it (${logins.length})`);

  const wrong = tempDir('daaas-ssh-bastion-');
  t.teardown(wrong.remove);
  writeFileSync(join(wrong.path, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${generateHostKey().publicKey}\n`);
  const refused = await build(t, sshOf(sshd, `, jumpHost: { host: 127.0.0.1, port: ${sshd.port}, knownHostsFile: ${join(wrong.path, 'known_hosts')} }`));
  const error = await t.throwsAsync(refused.provisioner.provision(vm, poolFor('excitations'), signal()), { instanceOf: AnsiblePlayError });
  t.regex(error!.message, /unreachable/);
  t.is((sshd.log().match(/Accepted publickey/g) ?? []).length, logins.length, 'no login through a bastion with the wrong key');
});

ansibleTest('host-key checking is on by default; turned off, the bot says so loudly at start', async (t) => {
  const on = await build(t, '{ user: debian }');
  t.notRegex(on.logged(), /HOST KEY CHECKING IS OFF/);
  const off = await build(t, '{ user: debian }', { hostKeyChecking: false });
  t.regex(off.logged(), /"level":"warn".*SSH HOST KEY CHECKING IS OFF \(provisioner\.ansible\.hostKeyChecking: false\)/);
  // Off, a VM without a pinned key is not refused for it (the run itself may then fail to connect).
  const vm: Vm = { ...vmFor('excitations-s5'), hostKey: null };
  const error = await t.throwsAsync(off.provisioner.provision(vm, poolFor('excitations'), signal()));
  t.notRegex(error!.message, /no host key is pinned/);
});
