/**
 * A full run at debug level with every secret the bot can hold set — the cloud password and
 * tokens, the Slack bot token and signing secret — then the whole log is searched for them.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeSlack, postSigned, slashCommandBody } from '../chat/slack/fake-slack.ts';
import { startBot, until } from '../helpers/bot-process.ts';
import { FAKE_USER, FakeOpenStack } from '../helpers/fake-openstack.ts';
import { tempDir } from '../helpers/harness.ts';

const SIGNING = 'signing-secret-never-logged';
const BOT_TOKEN = 'xoxb-bot-token-never-logged';

test('no password, token or signing secret appears in the logs of a full run, even at debug level and through failures', async (t) => {
  const cloud = await new FakeOpenStack({ bootMs: 100 }).start();
  t.teardown(() => cloud.stop());
  const slack = await FakeSlack.start();
  t.teardown(() => slack.close());
  slack.users.set('UALICE', { email: 'alice@facility.example' });
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(
    join(dir.path, 'c.yaml'),
    `
access: { groups: { physics: [alice] } }
scheduler: { poll: 100ms }
cloud: { driver: openstack }
provisioner: { driver: simulated, simulated: { provisionTime: 100ms, personaliseTime: 100ms } }
slack: { identity: { domains: [facility.example] } }
pools:
  physics: { image: physics-base, flavor: m1.small, networks: [], size: 1, max: 2, groups: [physics], owner: { name: P, contact: p@facility.example } }
`,
  );
  const b = startBot(
    t,
    { ...cloud.env(), DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_LOG_LEVEL: 'trace', SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING, SLACK_API_URL: slack.apiUrl },
    [],
    /^(OS_|SLACK_)/,
  );
  await until('listening', () => /"msg":"listening"/.test(b.stdout()));
  const port = Number(/"port":(\d+)/.exec(b.stdout())?.[1]);
  await until('the pool full', () => /"msg":"ready"/.test(b.stdout()));
  // A token revoked mid-run and a failing call put the error paths in the log too.
  cloud.revokeTokens();
  cloud.fail({ status: 500, method: 'GET' });
  const body = slashCommandBody({ user: 'UALICE', text: 'claim physics', responseUrl: slack.responseUrl('c') });
  await postSigned(`http://127.0.0.1:${port}/slack/events`, body, { secret: SIGNING, timestampSec: Math.floor(Date.now() / 1000) });
  await until('the claim answered', () => slack.responses.length > 0);
  await postSigned(`http://127.0.0.1:${port}/slack/events`, body, { secret: 'forged', timestampSec: Math.floor(Date.now() / 1000) });
  await until('re-authenticated', () => cloud.count('POST', /auth\/tokens/) >= 2);
  b.child.kill('SIGTERM');
  t.is(await b.exit, 0);
  const log = `${b.stdout()}\n${b.stderr()}`;
  t.true(log.split('\n').length > 20, 'a full debug log');
  // Every token the bot ever sent, the revoked one included.
  const tokens = new Set(cloud.requests.map((r) => r.headers['x-auth-token']).filter((v): v is string => typeof v === 'string'));
  t.true(tokens.size >= 2);
  const secrets = [FAKE_USER.password, SIGNING, BOT_TOKEN, ...tokens];
  for (const secret of secrets) t.false(log.includes(secret), `a secret is in the log (${secret.slice(0, 4)}…)`);
});
