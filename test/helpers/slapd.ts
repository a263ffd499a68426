/**
 * A real OpenLDAP server for tests: Debian's slapd on 127.0.0.1 (a free port), with a throwaway
 * configuration, database and certificates made here — no debconf, no system service. It speaks
 * ldap:// with StartTLS and ldaps://, with a certificate from a CA this helper makes (and a
 * second, unrelated CA to prove a wrong one is refused). Anonymous clients can only bind; the
 * bot's own entry may read. Stopped by the pid in its pidfile.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SLAPD = '/usr/sbin/slapd';
export const SLAPADD = '/usr/sbin/slapadd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';
export const SUFFIX = 'dc=facility,dc=example';
export const BOT_DN = `cn=daaas-bot,ou=services,${SUFFIX}`;
export const BOT_PASSWORD = 'bot-secret-for-tests';
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;

/** What to install, or undefined when a real slapd can be started here. */
export function slapdMissing(): string | undefined {
  const missing: string[] = [];
  if (!existsSync(SLAPD) || !existsSync(SLAPADD) || !existsSync(join(SCHEMA_DIR, 'nis.schema'))) missing.push('slapd');
  if (!existsSync('/usr/bin/ldapsearch')) missing.push('ldap-utils');
  if (!existsSync('/usr/bin/openssl')) missing.push('openssl');
  return missing.length ? missing.join(' ') : undefined;
}

export const INSTALL_HINT = 'DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils openssl';

export interface Person {
  uid: string;
  uidNumber: number;
  gidNumber?: number;
  name?: string;
  mail?: string;
  home?: string;
  /** shadowExpire: days since 1970-01-01 (1: long expired). */
  shadowExpire?: number;
  extra?: string[];
}

export interface Groups {
  /** posixGroup name → member account names (memberUid). */
  posix?: Record<string, string[]>;
  /** groupOfNames name → members: account names, or `group:<name>` for a group within the group. */
  named?: Record<string, string[]>;
}

export const personDn = (uid: string) => `uid=${uid},${PEOPLE}`;
export const groupDn = (cn: string) => `cn=${cn},${GROUPS}`;

/** LDIF for the tree, the bot's entry, people and groups. */
export function ldif(people: Person[], groups: Groups): string {
  const entries = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: facility\no: Facility`,
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services`,
    `dn: ${BOT_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: daaas-bot\nuserPassword: ${BOT_PASSWORD}`,
  ];
  for (const p of people) {
    const name = p.name ?? p.uid;
    entries.push(
      [
        `dn: ${personDn(p.uid)}`,
        'objectClass: inetOrgPerson',
        'objectClass: posixAccount',
        'objectClass: shadowAccount',
        `uid: ${p.uid}`,
        `cn: ${name}`,
        `sn: ${name.split(' ').pop()}`,
        `displayName: ${name}`,
        ...(p.mail ? [`mail: ${p.mail}`] : []),
        `uidNumber: ${p.uidNumber}`,
        `gidNumber: ${p.gidNumber ?? p.uidNumber}`,
        `homeDirectory: ${p.home ?? `/home/${p.uid}`}`,
        'loginShell: /bin/bash',
        ...(p.shadowExpire !== undefined ? [`shadowExpire: ${p.shadowExpire}`] : []),
        ...(p.extra ?? []),
      ].join('\n'),
    );
  }
  let gid = 60_000;
  for (const [cn, members] of Object.entries(groups.posix ?? {})) {
    entries.push([`dn: ${groupDn(cn)}`, 'objectClass: posixGroup', `cn: ${cn}`, `gidNumber: ${gid++}`, ...members.map((m) => `memberUid: ${m}`)].join('\n'));
  }
  for (const [cn, members] of Object.entries(groups.named ?? {})) {
    const dns = members.map((m) => (m.startsWith('group:') ? groupDn(m.slice(6)) : personDn(m)));
    entries.push([`dn: ${groupDn(cn)}`, 'objectClass: groupOfNames', `cn: ${cn}`, ...(dns.length ? dns : [BOT_DN]).map((d) => `member: ${d}`)].join('\n'));
  }
  return `${entries.join('\n\n')}\n`;
}

export interface Certificates {
  /** The CA that signed the server's certificate (PEM). */
  ca: string;
  /** An unrelated CA (PEM): a client trusting only it must refuse the server. */
  wrongCa: string;
  dir: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/** A CA, a server certificate for 127.0.0.1 and localhost signed by it, and an unrelated CA. */
export async function makeCertificates(dir: string): Promise<Certificates> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=DAaaS test CA'], dir);
  await openssl(['req', '-x509', ...ec, '-keyout', 'wrong-ca.key', '-out', 'wrong-ca.pem', '-days', '2', '-subj', '/CN=DAaaS test CA'], dir);
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), wrongCa: readFileSync(join(dir, 'wrong-ca.pem'), 'utf8'), dir };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface Slapd {
  /** ldap://127.0.0.1:port (StartTLS offered). */
  url: string;
  /** ldaps://127.0.0.1:port */
  ldapsUrl: string;
  port: number;
  certificates: Certificates;
  /** The CA's PEM written to a file, for configurations. */
  caFile: string;
  dir: string;
  /** The running server's pid (from its pidfile). */
  pid(): number;
  running(): boolean;
  /** Stops the server (by its pidfile's pid) and waits for it to exit; the data stay for `start`. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same data. */
  start(): Promise<void>;
  /** Stops it and removes everything. */
  remove(): Promise<void>;
}

/** Starts a private slapd with `people` and `groups` loaded. */
export async function startSlapd(people: Person[], groups: Groups): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'daaas-slapd-'));
  const certificates = await makeCertificates(dir);
  const db = join(dir, 'db');
  mkdirSync(db);
  const conf = join(dir, 'slapd.conf');
  const pidFile = join(dir, 'slapd.pid');
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'nis', 'inetorgperson'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
      `modulepath ${MODULE_DIR}`,
      'moduleload back_mdb',
      `pidfile ${pidFile}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      `TLSCACertificateFile ${join(dir, 'ca.pem')}`,
      `TLSCertificateFile ${join(dir, 'server.pem')}`,
      `TLSCertificateKeyFile ${join(dir, 'server.key')}`,
      'database mdb',
      'maxsize 16777216',
      `suffix "${SUFFIX}"`,
      `rootdn "cn=admin,${SUFFIX}"`,
      'rootpw admin-secret-for-tests',
      `directory ${db}`,
      'access to attrs=userPassword by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'data.ldif'), ldif(people, groups));
  try {
    await run(SLAPADD, ['-q', '-f', conf, '-l', join(dir, 'data.ldif')]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const port = await freePort();
  const ldapsPort = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  const caFile = join(dir, 'ca.pem');

  const readPid = () => Number(readFileSync(pidFile, 'utf8').trim());
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  let pid = 0;
  const start = async () => {
    // slapd detaches; its pidfile says which process to stop.
    await run(SLAPD, ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`]);
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      if (existsSync(pidFile) && (await accepts(port)) && (await accepts(ldapsPort))) {
        pid = readPid();
        return;
      }
      await delay(25);
    }
    throw new Error(`slapd did not start listening on ${url} within 15 s`);
  };
  const stop = async () => {
    if (!existsSync(pidFile)) return;
    const target = readPid();
    if (!alive(target)) return;
    process.kill(target, 'SIGTERM');
    const end = Date.now() + 10_000;
    while (alive(target) && Date.now() < end) await delay(25);
    if (alive(target)) process.kill(target, 'SIGKILL');
    while (alive(target)) await delay(25);
  };
  try {
    await start();
  } catch (error) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    ldapsUrl,
    port,
    certificates,
    caFile,
    dir,
    pid: () => pid,
    running: () => pid !== 0 && alive(pid),
    stop,
    start,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Registers the suite, or — without slapd — one test that says it was not run and how to run
 * it (a failure when DAAAS_REQUIRE_LDAP is set, as in CI).
 */
export function ldapSuite(test: { skip: (title: string, fn: () => void) => void; (title: string, fn: (t: { fail: (m: string) => void }) => void): void }, name: string, register: () => void): void {
  const missing = slapdMissing();
  if (!missing) {
    register();
    return;
  }
  const how = `install ${missing} (${INSTALL_HINT})`;
  if (process.env.DAAAS_REQUIRE_LDAP) test(`a real OpenLDAP server can be started for the ${name}`, (t) => t.fail(`the ${name} need a real slapd: ${how}`));
  else test.skip(`LDAP SUITE NOT RUN (${name}): no slapd here. To run it, ${how}`, () => {});
}
