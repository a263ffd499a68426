/**
 * The bot as `npm start` runs it, with access.directory pointing at a real slapd: the account
 * must be in the directory, its group lets it claim, and its uid reaches the provisioner.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBot, until } from '../helpers/bot-process.ts';
import { tempDir } from '../helpers/harness.ts';
import { BOT_DN, BOT_PASSWORD, GROUPS, ldapSuite, PEOPLE, startSlapd, type Slapd } from '../helpers/slapd.ts';

ldapSuite(test, 'directory end-to-end tests', () => {
  let slapd: Slapd;
  test.before(async () => {
    slapd = await startSlapd([{ uid: 'alice', uidNumber: 5001 }, { uid: 'dave', uidNumber: 5004, shadowExpire: 1 }], { posix: { physicists: ['alice', 'dave'] } });
  });
  test.after.always(async () => {
    await slapd?.remove();
  });

  const config = (s: Slapd) => `
access:
  directory:
    driver: ldap
    url: ${s.url}
    caFile: ${s.caFile}
    bindDn: ${BOT_DN}
    userBase: ${PEOPLE}
    groupBase: ${GROUPS}
    contact: the user office
cloud: { driver: simulated, simulated: { bootTime: 100ms, latency: 0, flavors: { m1.large: { vcpus: 4 } }, images: [physics-base] } }
provisioner: { driver: simulated, simulated: { provisionTime: 100ms, personaliseTime: 100ms } }
scheduler: { poll: 200ms }
pools:
  physics: { image: physics-base, flavor: m1.large, size: 1, max: 2, groups: ["ldap:physicists"], owner: { name: P, contact: p@facility.example } }
`;

  for (const [user, expect] of [
    ['alice', /✔ physics-\w+ is yours for 2d/],
    ['dave', /✖ Your account dave is expired on 1970-01-02 in the facility directory, so the bot cannot serve you\.\n {2}Ask the user office to renew it\./],
  ] as const) {
    test(`npm start -- --user ${user}: ${user === 'alice' ? 'a member of the directory group claims' : 'an expired account is refused'}`, async (t) => {
      const dir = tempDir();
      t.teardown(dir.remove);
      writeFileSync(join(dir.path, 'site.yaml'), config(slapd));
      const bot = startBot(t, { DAAAS_CONFIG: join(dir.path, 'site.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_LDAP_BIND_PASSWORD: BOT_PASSWORD }, ['--user', user]);
      // In the terminal chat the log goes to the data directory: claim once the warm VM is ready.
      const log = join(dir.path, 'var', 'daaas.log');
      await until('a warm VM', () => existsSync(log) && readFileSync(log, 'utf8').includes('"msg":"ready"'));
      bot.child.stdin.end('/daaas claim physics\n');
      t.is(await bot.exit, 0, bot.stderr());
      t.regex(bot.stdout(), expect);
    });
  }

  test('without the bind password the bot does not start, saying which variable to set', async (t) => {
    const dir = tempDir();
    t.teardown(dir.remove);
    writeFileSync(join(dir.path, 'site.yaml'), config(slapd));
    const bot = startBot(t, { DAAAS_CONFIG: join(dir.path, 'site.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var') }, ['--no-shell'], /^DAAAS_LDAP_BIND_PASSWORD$/);
    t.not(await bot.exit, 0);
    t.regex(bot.stderr(), /DAAAS_LDAP_BIND_PASSWORD, which is not set/);
    t.false(bot.stderr().includes(BOT_PASSWORD));
  });
});
