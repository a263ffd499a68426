/**
 * 7. What a claim costs with the facility directory: the same claim path as section 1 (one user
 * at a time, through app.dispatch), with `access.directory` configured against a real OpenLDAP
 * (Debian's slapd, started here on 127.0.0.1 over StartTLS, as the tests start it). Measured:
 * the first claim after start (connect, StartTLS, bind, searches), claims whose account is not
 * cached (a look-up on a pooled connection), claims whose account is cached, and the same claim
 * without a directory. Without slapd the section says what to install.
 */
import { join } from 'node:path';
import YAML from 'yaml';
import { CachedDirectory } from '../src/adapters/cached-directory.ts';
import { LdapDirectory } from '../src/adapters/ldap/ldap-directory.ts';
import { SystemClock } from '../src/adapters/system-clock.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { BOT_DN, BOT_PASSWORD, GROUPS, INSTALL_HINT, PEOPLE, slapdMissing, startSlapd } from '../test/helpers/slapd.ts';
import { benchConfig, buildApp, median, ms, percentile, PLATFORM, round, seedReady, tempDir, type Row, type SectionResult } from './lib.ts';

function config(url: string) {
  const doc = {
    instance: 'bench',
    access: {
      directory: { driver: 'ldap', url, bindDn: BOT_DN, userBase: PEOPLE, groupBase: GROUPS },
    },
    cloud: { driver: 'simulated', simulated: { latency: 0, quota: { instances: 100_000, cores: 100_000 }, flavors: { 'm1.large': { vcpus: 4 } }, images: ['analysis-base'] } },
    provisioner: { driver: 'simulated', simulated: { provisionTime: '3s', personaliseTime: '2s' } },
    pools: Object.fromEntries(
      ['first', 'second'].map((name) => [name, { image: 'analysis-base', flavor: 'm1.large', size: 1, max: 100_000, groups: ['ldap:bench-users', 'ldap:bench-staff'], owner: { name: 'Benchmark', contact: 'bench@facility.example' } }]),
    ),
  };
  return parseConfig(YAML.stringify(doc), 'bench-directory.yaml', { DAAAS_LDAP_BIND_PASSWORD: BOT_PASSWORD });
}

const stats = (values: number[]) => ({ n: values.length, p50Ms: round(median(values)), p99Ms: round(percentile(values, 99)), maxMs: round(Math.max(...values)) });
const show = (s: { p50Ms: number; p99Ms: number; n: number }) => `p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)} (${s.n} claims)`;

export async function directoryClaims(quick: boolean): Promise<SectionResult> {
  const missing = slapdMissing();
  if (missing) {
    return {
      rows: [{ section: '7 directory', measure: 'claim with the facility directory', value: `not measured: no slapd here (install ${missing})`, target: '—', verdict: 'info' }],
      notes: [`The directory figures need a real OpenLDAP: ${INSTALL_HINT}`],
      data: { skipped: `install ${missing}` },
    };
  }
  const users = quick ? 40 : 200;
  const accounts = Array.from({ length: users + 1 }, (_, i) => `u${String(i).padStart(4, '0')}`);
  const slapd = await startSlapd(
    accounts.map((uid, i) => ({ uid, uidNumber: 10_000 + i, name: `User ${i}`, mail: `${uid}@facility.example` })),
    // Half the users in a posixGroup, half in a groupOfNames inside another: both shapes, and nesting.
    { posix: { 'bench-users': accounts.filter((_, i) => i % 2 === 0) }, named: { 'bench-team': accounts.filter((_, i) => i % 2 === 1), 'bench-staff': ['group:bench-team'] } },
  );
  const dir = tempDir();
  const clock = new SystemClock();
  try {
    const cfg = config(slapd.url);
    const d = cfg.access.directory!;
    const ldap = new LdapDirectory({ url: d.url, ca: slapd.certificates.ca, bindDn: BOT_DN, bindPassword: BOT_PASSWORD, userBase: d.userBase, groupBase: d.groupBase, preset: d.preset, timeoutMs: d.timeout, poolSize: d.poolSize, clock });
    const cached = new CachedDirectory(ldap, { clock, ttlMs: d.ttl, staleForMs: d.staleFor });
    const b = buildApp({ config: cfg, storePath: join(dir.path, 'daaas.db'), bootMs: 0, directory: cached });
    const claim = async (account: string, pool: string) => {
      const t0 = performance.now();
      const reply = await b.app.dispatch({ platform: PLATFORM, account, conversation: `dm-${account}`, text: `/daaas claim ${pool}` });
      if (reply.tone !== 'success') throw new Error(`${account} could not claim ${pool}: ${reply.title}`);
      return performance.now() - t0;
    };
    seedReady(b, cfg.pools[0]!, users + 1);
    seedReady(b, cfg.pools[1]!, users + 1);
    // The very first claim opens the pooled connection: TCP, StartTLS, bind, then the searches.
    const coldMs = await claim(accounts[users]!, 'first');
    const uncached: number[] = [];
    const warm: number[] = [];
    for (const account of accounts.slice(0, users)) {
      uncached.push(await claim(account, 'first'));
      warm.push(await claim(account, 'second'));
    }
    const lookups: number[] = [];
    for (const account of accounts.slice(0, Math.min(users, 50))) {
      const t0 = performance.now();
      await ldap.lookUp(account);
      lookups.push(performance.now() - t0);
    }
    await b.close();
    await ldap.close();

    // The same claims without a directory, on the same machine in the same run.
    const plain = buildApp({ config: benchConfig({ pools: [{ name: 'first', size: 1, max: 100_000 }] }), storePath: join(dir.path, 'plain.db'), bootMs: 0 });
    seedReady(plain, plain.config.pools[0]!, users);
    const without: number[] = [];
    for (const account of accounts.slice(0, users)) {
      const t0 = performance.now();
      await plain.app.dispatch({ platform: PLATFORM, account, conversation: `dm-${account}`, text: '/daaas claim first' });
      without.push(performance.now() - t0);
    }
    await plain.close();

    const s = { cold: round(coldMs), uncached: stats(uncached), cached: stats(warm), lookUp: stats(lookups), without: stats(without) };
    const rows: Row[] = [
      { section: '7 directory', measure: 'first claim after start (connect, StartTLS, bind, user and group searches)', value: ms(s.cold), target: '—', verdict: 'info' },
      { section: '7 directory', measure: 'claim, account not cached (LDAP look-up on a pooled connection)', value: show(s.uncached), target: 'p99 < 20 ms', verdict: s.uncached.p99Ms < 20 ? 'pass' : 'miss' },
      { section: '7 directory', measure: 'claim, account cached (ttl 5 m)', value: show(s.cached), target: 'p99 < 20 ms', verdict: s.cached.p99Ms < 20 ? 'pass' : 'miss' },
      { section: '7 directory', measure: 'the same claim without a directory', value: show(s.without), target: '—', verdict: 'info' },
      { section: '7 directory', measure: 'one uncached look-up (user search + group searches, nested groupOfNames)', value: `p50 ${ms(s.lookUp.p50Ms)}, p99 ${ms(s.lookUp.p99Ms)}`, target: '—', verdict: 'info' },
    ];
    return { rows, notes: [], data: { model: 'one user at a time; real slapd on 127.0.0.1 over StartTLS; pool of 4 connections', users, ...s } };
  } finally {
    await slapd.remove();
    dir.remove();
  }
}
