import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SystemClock } from '../../src/adapters/system-clock.ts';
import { directoryCheck, directoryReportText } from '../../src/cli/directory-check.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { tempDir } from '../helpers/harness.ts';
import { BOT_DN, BOT_PASSWORD, GROUPS, ldapSuite, PEOPLE, startSlapd, type Slapd } from '../helpers/slapd.ts';

function yaml(slapd: Slapd): string {
  return `
access:
  admins: ["ldap:staff"]
  directory:
    driver: ldap
    url: ${slapd.url}
    caFile: ${slapd.caFile}
    bindDn: ${BOT_DN}
    userBase: ${PEOPLE}
    groupBase: ${GROUPS}
    contact: the user office
cloud: { driver: simulated, simulated: { flavors: { m1.large: { vcpus: 4 } }, images: [physics-base] } }
pools:
  physics: { image: physics-base, flavor: m1.large, size: 1, max: 2, groups: ["ldap:excitations-users"], owner: { name: P, contact: p@facility.example } }
  imaging: { image: physics-base, flavor: m1.large, size: 1, max: 2, groups: ["ldap:imaging-users"], owner: { name: I, contact: i@facility.example } }
`;
}

function daaas(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/daaas.ts', ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

ldapSuite(test, 'directory check tests', () => {
  let slapd: Slapd;
  test.before(async () => {
    slapd = await startSlapd(
      [
        { uid: 'alice', uidNumber: 5001, gidNumber: 6001, name: 'Alice Liddell', mail: 'alice@facility.example' },
        { uid: 'dave', uidNumber: 5004, shadowExpire: 1 },
      ],
      { posix: { 'excitations-users': ['alice', 'dave'] }, named: { staff: ['alice'] } },
    );
  });
  test.after.always(async () => {
    await slapd?.remove();
  });

  test('what the bot sees: ids, home, groups, admin, the pools it may claim; a disabled account with the refusal', async (t) => {
    const env = { DAAAS_LDAP_BIND_PASSWORD: BOT_PASSWORD };
    const cfg = parseConfig(yaml(slapd), 'site.yaml', env);
    const alice = await directoryCheck(cfg, env, 'alice', new SystemClock());
    t.like(alice, { account: 'alice', reachable: true, exists: true, disabled: false, uid: 5001, gid: 6001, home: '/home/alice', displayName: 'Alice Liddell', admin: true, pools: ['physics', 'imaging'], refusal: null });
    t.deepEqual([...alice.groups].sort(), ['excitations-users', 'staff']);
    t.regex(directoryReportText(alice), /✔ alice \(Alice Liddell\)\n {2}uid 5001, gid 6001, home \/home\/alice, e-mail alice@facility\.example\n[^]*may claim: physics, imaging/);
    const dave = await directoryCheck(cfg, env, 'dave', new SystemClock());
    t.like(dave, { exists: true, disabled: true, pools: [] });
    t.regex(dave.refusal!, /expired on 1970-01-02 in the facility directory[^]*Ask the user office/);
    const nobody = await directoryCheck(cfg, env, 'nobody', new SystemClock());
    t.like(nobody, { exists: false, reachable: true });
    t.regex(directoryReportText(nobody), /nobody: not in the facility directory/);
  });

  test('npm run daaas -- directory check and config check, with --json; a wrong password fails config check', async (t) => {
    const dir = tempDir();
    t.teardown(dir.remove);
    writeFileSync(join(dir.path, 'site.yaml'), yaml(slapd));
    const env = { DAAAS_CONFIG: join(dir.path, 'site.yaml'), DAAAS_LDAP_BIND_PASSWORD: BOT_PASSWORD };
    const text = await daaas(['directory', 'check', 'alice'], env);
    t.is(text.code, 0, text.err);
    t.regex(text.out, /may claim: physics, imaging/);
    const json = await daaas(['directory', 'check', 'dave', '--json'], env);
    t.is(json.code, 1);
    t.like(JSON.parse(json.out), { account: 'dave', disabled: true, uid: 5004 });
    const check = await daaas(['config', 'check'], env);
    t.is(check.code, 0, check.err);
    t.regex(check.out, new RegExp(`✔ facility directory: bound to ${slapd.url} and searched the user base \\(\\d+ ms\\)`));
    const wrong = await daaas(['config', 'check', '--json'], { ...env, DAAAS_LDAP_BIND_PASSWORD: 'wrong' });
    t.is(wrong.code, 1);
    t.like(JSON.parse(wrong.out), { ok: false, directory: { ok: false } });
    t.regex(JSON.parse(wrong.out).directory.error, /InvalidCredentials/);
    t.false(wrong.out.includes('wrong"') || wrong.out.includes(BOT_PASSWORD), 'no password is printed');
    const missing = await daaas(['config', 'check'], { DAAAS_CONFIG: env.DAAAS_CONFIG, DAAAS_LDAP_BIND_PASSWORD: '' });
    t.is(missing.code, 1);
    t.regex(missing.out, /DAAAS_LDAP_BIND_PASSWORD, which is not set/);
  });
});

test('directory check without a directory configured says so (exit 2)', async (t) => {
  const r = await daaas(['directory', 'check', 'alice'], {});
  t.is(r.code, 2);
  t.regex(r.err, /has no access\.directory/);
});
