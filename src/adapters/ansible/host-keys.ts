/**
 * SSH host keys the bot gives its VMs. Each VM boots with an ed25519 host key generated here
 * and handed to cloud-init in the server's user data; the bot keeps the public half and pins it
 * for every play, so a run reaches that VM or nothing: no key is trusted on first use.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { stringify } from 'yaml';

/** An ed25519 host key: the private key in OpenSSH's format, the public key as one `ssh-ed25519 AAAA…` line. */
export interface HostKeyPair {
  privateKey: string;
  publicKey: string;
}

const KEY_TYPE = 'ssh-ed25519';
/** What a pinned public key looks like: the type and the base64 of its blob, nothing else. */
const PUBLIC_KEY = /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}=?$/;

/** A new ed25519 key pair, made in memory (nothing is written to disk). */
export function generateHostKey(comment = 'daaas-host-key'): HostKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const publicBlob = concat(sshString(KEY_TYPE), sshString(pub));
  const check = randomBytes(4);
  let secret = concat(check, check, sshString(KEY_TYPE), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment));
  // Padded with 1, 2, 3, … to the cipher's block size (8 for "none").
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = concat(Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(publicBlob), sshString(secret));
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `${KEY_TYPE} ${publicBlob.toString('base64')}`,
  };
}

/** Checks a pinned public key: an `ssh-ed25519` key line without a comment. */
export function safeHostKey(value: string, what = 'host key'): string {
  if (!PUBLIC_KEY.test(value)) throw new Error(`${what} is not an ssh-ed25519 public key`);
  return value;
}

/**
 * The cloud-init user data that installs the key as the VM's only host key (cloud-init deletes
 * the image's keys first, `ssh_deletekeys`, on by default; said here so a site default cannot
 * keep them).
 */
export function hostKeyUserData(key: HostKeyPair): string {
  return `#cloud-config\n${stringify({ ssh_deletekeys: true, ssh_keys: { ed25519_private: key.privateKey, ed25519_public: key.publicKey } }, { lineWidth: 0 })}`;
}

/** The known_hosts line that pins `publicKey` for the address and port a play connects to. */
export function knownHostsLine(address: string, port: number | undefined, publicKey: string): string {
  const host = port === undefined || port === 22 ? address : `[${address}]:${port}`;
  return `${host} ${safeHostKey(publicKey)}\n`;
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function sshString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}

const concat = (...parts: Buffer[]) => Buffer.concat(parts);
