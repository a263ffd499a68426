import test from 'ava';
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { generateHostKey, hostKeyUserData, knownHostsLine, safeHostKey } from '../../../src/adapters/ansible/host-keys.ts';
import { tempDir } from '../../helpers/harness.ts';

test('a generated host key is a valid OpenSSH ed25519 key pair, different every time', async (t) => {
  const key = generateHostKey('daaas-excitations-k3f9');
  t.regex(key.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}=?$/);
  t.regex(key.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END OPENSSH PRIVATE KEY-----\n$/);
  t.not(generateHostKey().publicKey, key.publicKey);
  t.is(safeHostKey(key.publicKey), key.publicKey);
  // OpenSSH itself reads the private key and derives the same public key from it.
  const keygen = await execa('ssh-keygen', ['-?'], { reject: false });
  if (keygen.failed && (keygen as { code?: string }).code === 'ENOENT') return t.log('ssh-keygen is not installed: the OpenSSH cross-check was skipped');
  const dir = tempDir('daaas-host-key-');
  t.teardown(dir.remove);
  const file = join(dir.path, 'key');
  writeFileSync(file, key.privateKey, { mode: 0o600 });
  t.is((await execa('ssh-keygen', ['-y', '-f', file])).stdout, `${key.publicKey} daaas-excitations-k3f9`);
});

test("the user data installs the pair as the VM's host key, its image's keys deleted", (t) => {
  const key = generateHostKey();
  const data = hostKeyUserData(key);
  t.true(data.startsWith('#cloud-config\n'));
  t.deepEqual(parse(data), { ssh_deletekeys: true, ssh_keys: { ed25519_private: key.privateKey, ed25519_public: key.publicKey } });
});

test('the pinned known_hosts line names the port when it is not 22; anything but an ed25519 key line is refused', (t) => {
  const { publicKey } = generateHostKey();
  t.is(knownHostsLine('10.0.0.5', undefined, publicKey), `10.0.0.5 ${publicKey}\n`);
  t.is(knownHostsLine('10.0.0.5', 22, publicKey), `10.0.0.5 ${publicKey}\n`);
  t.is(knownHostsLine('10.0.0.5', 2222, publicKey), `[10.0.0.5]:2222 ${publicKey}\n`);
  for (const bad of [`${publicKey} comment`, `${publicKey}\n10.0.0.6 ${publicKey}`, 'ssh-rsa AAAAB3Nza', '', `@cert-authority * ${publicKey}`]) {
    t.throws(() => knownHostsLine('10.0.0.5', 22, bad), { message: /not an ssh-ed25519 public key/ });
  }
});
