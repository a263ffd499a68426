/**
 * The inventory of one run, built without running Ansible: what a play is told about its host.
 * (The runner's tests check that ansible-playbook really uses it, where Ansible is installed.)
 */
import test from 'ava';
import { generateHostKey } from '../../../src/adapters/ansible/host-keys.ts';
import { inventoryFor, type RunTarget } from '../../../src/adapters/ansible/inventory.ts';
import { UnsafeInputError } from '../../../src/adapters/ansible/safe-vars.ts';

type HostVars = Record<string, string | number>;
const hostVars = (vm: string, target: RunTarget, checkHostKeys = true) => (inventoryFor(vm, target, '/run/work/known_hosts', checkHostKeys) as { all: { hosts: Record<string, HostVars> } }).all.hosts[vm]!;

test('a local run uses the local connection and the controller\'s own Python', (t) => {
  t.deepEqual(hostVars('vm-1', { kind: 'local' }), { ansible_connection: 'local', ansible_python_interpreter: '{{ ansible_playbook_python }}' });
});

test('over SSH: the address, user, port, key and timeout, the run\'s own known_hosts checked strictly, batch mode', (t) => {
  const { publicKey } = generateHostKey();
  const vars = hostVars('vm-1', { kind: 'ssh', address: '10.0.0.5', user: 'debian', port: 2222, privateKeyFile: '/etc/daaas/id_ed25519', hostKey: publicKey, connectTimeoutS: 12 });
  t.is(vars.ansible_host, '10.0.0.5');
  t.is(vars.ansible_user, 'debian');
  t.is(vars.ansible_port, 2222);
  t.is(vars.ansible_ssh_private_key_file, '/etc/daaas/id_ed25519');
  t.is(vars.ansible_ssh_timeout, 12);
  t.is(
    vars.ansible_ssh_common_args,
    '-o UserKnownHostsFile=/run/work/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o HostKeyAlgorithms=ssh-ed25519 -o CheckHostIP=no -o BatchMode=yes',
  );
});

test('through a bastion: a ProxyCommand with the bastion\'s own pinned keys, the same timeout, key and user', (t) => {
  const vars = hostVars('vm-1', { kind: 'ssh', address: '10.0.0.5', user: 'debian', privateKeyFile: '/etc/daaas/id_ed25519', connectTimeoutS: 12, jumpHost: { host: 'bastion.facility.example', port: 2200, knownHostsFile: '/etc/daaas/bastion_known_hosts' } });
  t.true(
    String(vars.ansible_ssh_common_args).endsWith(
      '-o ProxyCommand="ssh -o BatchMode=yes -o UserKnownHostsFile=/etc/daaas/bastion_known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o ConnectTimeout=12 -i /etc/daaas/id_ed25519 -l debian -p 2200 -W [%h]:%p bastion.facility.example"',
    ),
    String(vars.ansible_ssh_common_args),
  );
  const own = hostVars('vm-1', { kind: 'ssh', address: '10.0.0.5', user: 'debian', jumpHost: { host: 'bastion', user: 'jump', knownHostsFile: '/etc/daaas/bastion_known_hosts' } });
  t.regex(String(own.ansible_ssh_common_args), / -l jump -p 22 -W \[%h\]:%p bastion"$/, 'the bastion\'s own user, port 22 by default');
});

test('with host-key checking off nothing is recorded and any key is accepted, for the VM and the bastion alike', (t) => {
  const vars = hostVars('vm-1', { kind: 'ssh', address: '10.0.0.5', jumpHost: { host: 'bastion', knownHostsFile: '/etc/daaas/bastion_known_hosts' } }, false);
  const args = String(vars.ansible_ssh_common_args);
  t.true(args.startsWith('-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes'), args);
  t.notRegex(args, /StrictHostKeyChecking=yes|bastion_known_hosts/);
});

test('bad targets are refused with a clear error before anything is written', (t) => {
  const ssh = (more: Partial<Extract<RunTarget, { kind: 'ssh' }>>): RunTarget => ({ kind: 'ssh', address: '10.0.0.5', ...more });
  t.throws(() => hostVars('vm-1', ssh({ address: '10.0.0.1 -oProxyCommand=id' })), { instanceOf: UnsafeInputError });
  t.throws(() => hostVars('vm-1', ssh({ user: 'root;id' })), { instanceOf: UnsafeInputError });
  t.throws(() => hostVars('vm-1', ssh({ privateKeyFile: '../../etc/shadow' })), { instanceOf: UnsafeInputError });
  t.throws(() => hostVars('vm-1', ssh({ port: 70_000 })), { message: 'SSH port 70000 is not a port number' });
  t.throws(() => hostVars('vm-1', ssh({ connectTimeoutS: 0.5 })), { message: 'SSH connect timeout 0.5 is not a whole number of seconds' });
  t.throws(() => hostVars('vm-1', ssh({ hostKey: 'ssh-rsa AAAAB3Nza' })), { message: /not an ssh-ed25519 public key/ });
  t.throws(() => hostVars('vm-1', ssh({ jumpHost: { host: 'bastion', port: 0, knownHostsFile: '/etc/k' } })), { message: 'jump host port 0 is not a port number' });
  t.throws(() => hostVars('vm-1', ssh({ jumpHost: { host: 'bastion', knownHostsFile: 'relative/../k' } })), { instanceOf: UnsafeInputError });
  t.throws(() => hostVars('vm-1', { kind: 'telnet' } as unknown as RunTarget), { message: /unknown target/ });
});
