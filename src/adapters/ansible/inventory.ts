/**
 * Where a play runs, and the inventory that says so: a VM over SSH (its address, login, pinned
 * host key, connect timeout and bastion) or this machine. Pure: builds and checks the inventory
 * of one run, writes and starts nothing (the runner, ansible-runner.ts, does that).
 */
import { safeHostKey } from './host-keys.ts';
import { safeAccount, safeAddress, safePath } from './safe-vars.ts';

/** A bastion the SSH connection goes through; its own host key is pinned in `knownHostsFile`. */
export interface JumpHost {
  host: string;
  user?: string;
  port?: number;
  /** A known_hosts file holding the bastion's host key (checked strictly, like the VM's). */
  knownHostsFile: string;
}

/** How a play reaches a VM over SSH. */
export interface SshTarget {
  kind: 'ssh';
  address: string;
  user?: string;
  port?: number;
  privateKeyFile?: string;
  /** The VM's pinned host key (`ssh-ed25519 AAAA…`): the only key the connection accepts. */
  hostKey?: string | null;
  /** Seconds to wait for the TCP connection and SSH greeting. */
  connectTimeoutS?: number;
  jumpHost?: JumpHost;
}

/** Where a play runs: a VM over SSH, or this machine (a sandbox under `daaas_root`). */
export type RunTarget = { kind: 'local' } | SshTarget;

/** The run was refused before anything was sent: there is no pinned host key to check the VM against. */
export class HostKeyMissingError extends Error {
  override readonly name = 'HostKeyMissingError';
}

/**
 * The inventory of one run. Over SSH the connection options are all here: the VM's pinned key
 * in the run's own known_hosts file and strict checking (or, with checking off, nothing
 * recorded), the connect timeout, and the bastion, whose key is checked the same way.
 */
export function inventoryFor(vm: string, target: RunTarget, knownHostsFile: string, checkHostKeys = true): object {
  let hostVars: Record<string, string | number>;
  if (target.kind === 'local') {
    // The controller's own Python: no interpreter discovery on this machine.
    hostVars = { ansible_connection: 'local', ansible_python_interpreter: '{{ ansible_playbook_python }}' };
  } else if (target.kind === 'ssh') {
    hostVars = { ansible_host: safeAddress(target.address, 'VM address') };
    if (target.user !== undefined) hostVars.ansible_user = safeAccount(target.user, 'SSH user');
    if (target.port !== undefined) {
      if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) throw new Error(`SSH port ${target.port} is not a port number`);
      hostVars.ansible_port = target.port;
    }
    if (target.privateKeyFile !== undefined) hostVars.ansible_ssh_private_key_file = safePath(target.privateKeyFile, 'SSH private key file');
    if (target.hostKey) safeHostKey(target.hostKey, `host key of ${vm}`);
    if (target.connectTimeoutS !== undefined) {
      if (!Number.isInteger(target.connectTimeoutS) || target.connectTimeoutS < 1) throw new Error(`SSH connect timeout ${target.connectTimeoutS} is not a whole number of seconds`);
      hostVars.ansible_ssh_timeout = target.connectTimeoutS;
    }
    const args = checkHostKeys
      ? [`-o UserKnownHostsFile=${safePath(knownHostsFile, 'known_hosts file')}`, '-o GlobalKnownHostsFile=/dev/null', '-o StrictHostKeyChecking=yes', '-o HostKeyAlgorithms=ssh-ed25519', '-o CheckHostIP=no']
      : ['-o UserKnownHostsFile=/dev/null', '-o StrictHostKeyChecking=no'];
    args.push('-o BatchMode=yes');
    if (target.jumpHost) args.push(`-o ProxyCommand="${proxyCommand(target.jumpHost, target, checkHostKeys)}"`);
    hostVars.ansible_ssh_common_args = args.join(' ');
  } else {
    throw new Error(`unknown target ${JSON.stringify(target)}`);
  }
  return { all: { hosts: { [vm]: hostVars } } };
}

/** `ssh -W` through the bastion, with the same key, timeout and strictness as the VM's connection. */
function proxyCommand(jump: JumpHost, target: SshTarget, checkHostKeys: boolean): string {
  const host = safeAddress(jump.host, 'jump host');
  const user = jump.user !== undefined ? safeAccount(jump.user, 'jump host user') : target.user;
  const port = jump.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`jump host port ${port} is not a port number`);
  const parts = ['ssh', '-o', 'BatchMode=yes'];
  if (checkHostKeys) parts.push('-o', `UserKnownHostsFile=${safePath(jump.knownHostsFile, 'jump host knownHostsFile')}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes');
  else parts.push('-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no');
  if (target.connectTimeoutS !== undefined) parts.push('-o', `ConnectTimeout=${target.connectTimeoutS}`);
  if (target.privateKeyFile !== undefined) parts.push('-i', safePath(target.privateKeyFile, 'SSH private key file'));
  if (user !== undefined) parts.push('-l', user);
  parts.push('-p', String(port), '-W', '[%h]:%p', host);
  return parts.join(' ');
}

