/**
 * A real OpenSSH server on 127.0.0.1 standing in for a freshly booted VM: its own port, the host
 * key a test gives it (the one the bot generated for the VM), and a throwaway account with a key
 * of its own and passwordless sudo (for `become`). Needs root and Debian's openssh-server and sudo.
 */
import type { TestFn } from 'ava';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { tempDir } from '../../helpers/harness.ts';
import { isRoot } from './sandbox.ts';

export const SSHD = '/usr/sbin/sshd';
const SSHD_HINT = 'apt-get install --no-install-recommends openssh-server openssh-client sudo';

export interface Sshd {
  port: number;
  /** The account plays log in with. */
  user: string;
  /** Its private key. */
  clientKeyFile: string;
  /** A known_hosts file pinning this server's key at 127.0.0.1:port (for a bastion). */
  knownHostsFile: string;
  /** The server's log (sshd -e). */
  log: () => string;
  stop: () => Promise<void>;
}

/** What the sshd tests need: sshd, ssh, ssh-keygen, sudo, and root to add the throwaway account. */
export function sshdMissing(): string | undefined {
  if (!isRoot) return 'they must run as root (they add a throwaway account with sudo)';
  for (const tool of [SSHD, '/usr/bin/ssh', '/usr/bin/ssh-keygen', '/usr/bin/sudo']) if (!existsSync(tool)) return `${tool} is not installed`;
  return undefined;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts sshd with `hostPrivateKey` (OpenSSH format) as its only host key. */
export async function startSshd(hostPrivateKey: string, hostPublicKey: string): Promise<Sshd> {
  const dir = tempDir('daaas-sshd-');
  const user = `daaass_${randomBytes(4).toString('hex')}`;
  const sudoers = `/etc/sudoers.d/${user}`;
  let server: ResultPromise | undefined;
  let output = '';
  const stop = async () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      server.kill('SIGTERM');
      await server.catch(() => {});
    }
    rmSync(sudoers, { force: true });
    await execa('userdel', ['-r', user], { reject: false });
    dir.remove();
  };
  try {
    await execa('useradd', ['-m', '-s', '/bin/bash', user]);
    // Not locked ('!'), or sshd refuses it; no password either: keys only.
    await execa('usermod', ['-p', '*', user]);
    writeFileSync(sudoers, `${user} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
    const clientKeyFile = join(dir.path, 'id_ed25519');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', user, '-f', clientKeyFile]);
    const home = (await execa('getent', ['passwd', user])).stdout.split(':')[5]!;
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'authorized_keys'), readFileSync(`${clientKeyFile}.pub`), { mode: 0o600 });
    await execa('chown', ['-R', `${user}:`, join(home, '.ssh')]);

    const hostKeyFile = join(dir.path, 'ssh_host_ed25519_key');
    writeFileSync(hostKeyFile, hostPrivateKey, { mode: 0o600 });
    const port = await freePort();
    const knownHostsFile = join(dir.path, 'known_hosts');
    writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPublicKey}\n`);
    const config = join(dir.path, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKeyFile}`,
        `PidFile ${join(dir.path, 'sshd.pid')}`,
        'AuthorizedKeysFile .ssh/authorized_keys',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'PermitRootLogin no',
        `AllowUsers ${user}`,
        'AllowTcpForwarding yes',
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    // Debian's sshd wants its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    server = execa(SSHD, ['-D', '-e', '-f', config], { reject: false, stdin: 'ignore', all: true, buffer: false, cleanup: true });
    server.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await listening(port, () => server!.exitCode !== null, () => output);
    return { port, user, clientKeyFile, knownHostsFile, log: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function listening(port: number, exited: () => boolean, output: () => string): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    if (exited()) throw new Error(`sshd exited: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${output()}`);
    await delay(50);
  }
}

function inert(): TestFn {
  const target = () => {};
  const proxy: unknown = new Proxy(target, { get: () => proxy, apply: () => undefined });
  return proxy as TestFn;
}

/**
 * The test function for a suite that needs a real sshd (as `ansibleSuite` for ansible-playbook):
 * without it, one entry says the suite was not run and how to run it, a failure when
 * DAAAS_REQUIRE_SSHD is set (as in CI).
 */
export function sshdSuite(test: TestFn, name: string, files: string): TestFn {
  const missing = sshdMissing();
  if (!missing) return test;
  const how = `as root, install ${SSHD_HINT.replace('apt-get install --no-install-recommends ', '')} (${SSHD_HINT}), then run \`npx ava ${files}\``;
  if (process.env.DAAAS_REQUIRE_SSHD) test(`sshd is available for the ${name}`, (t) => t.fail(`the ${name} need a real sshd, but ${missing}: ${how}`));
  else test.skip(`SSHD SUITE NOT RUN (${name}): ${missing}. To run it, ${how}`, () => {});
  return inert();
}
