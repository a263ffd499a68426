/**
 * The bot as a process with Teams in its local anonymous mode, against a fake connector
 * service: Teams-shaped activities posted to POST /api/messages on the bot's one server.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeConnector, personalMessage, postActivity, type TestUser } from '../chat/teams/fake-connector.ts';
import { startBot, until } from '../helpers/bot-process.ts';
import { tempDir } from '../helpers/harness.ts';

const ALICE: TestUser = { id: '29:1alice', aadObjectId: '6f1e0c1a-0000-4000-8000-0000000a11ce', name: 'Alice Example' };
const CONFIG = `
access: { groups: { physics: [alice] } }
scheduler: { poll: 100ms }
cloud: { driver: simulated, simulated: { bootTime: 200ms, latency: 0, flavors: { m1.large: { vcpus: 4 } }, images: [physics-base] } }
provisioner: { driver: simulated, simulated: { provisionTime: 200ms, personaliseTime: 200ms } }
teams: { identity: { domains: [facility.example], contact: the DAaaS team (daaas@facility.example) } }
pools:
  physics: { image: physics-base, flavor: m1.large, size: 1, max: 2, groups: [physics], owner: { name: P, contact: p@facility.example } }
`;

const bot = (t: { teardown: (fn: () => void) => void }, env: Record<string, string>) => startBot(t, env, [], /^(clientId|clientSecret|tenantId|MicrosoftApp|Connections__|SLACK_)/i);

test('TEAMS_ALLOW_ANONYMOUS on loopback: a personal "claim physics" is answered at the connector, and the home-ready message follows proactively', async (t) => {
  const fake = await FakeConnector.start();
  t.teardown(() => fake.close());
  fake.members.set(ALICE.id, { id: ALICE.id, aadObjectId: ALICE.aadObjectId, name: ALICE.name, userPrincipalName: 'alice@facility.example', userRole: 'user' });
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const b = bot(t, { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), TEAMS_ALLOW_ANONYMOUS: '1', DAAAS_HOST: '127.0.0.1' });
  await until('listening with Teams', () => /"msg":"Teams enabled"/.test(b.stdout()) && /"msg":"listening"/.test(b.stdout()));
  t.regex(b.stdout(), /"mode":"anonymous"/);
  const port = Number(/"port":(\d+)/.exec(b.stdout())?.[1]);
  await until('the pool full', () => /"msg":"ready"/.test(b.stdout()));

  const sent = await postActivity(`http://127.0.0.1:${port}/api/messages`, personalMessage(fake, ALICE, 'claim physics'));
  t.true(sent.status >= 200 && sent.status < 300, JSON.stringify(sent));
  await until('the answer at the connector', () => fake.delivered().some((c) => JSON.stringify(c).includes('is yours for 2d')));
  await until('the proactive home-ready message', () => fake.delivered().some((c) => JSON.stringify(c).includes('is ready for you')));
  b.child.kill('SIGTERM');
  t.is(await b.exit, 0);
});

test('Teams anonymous mode on a non-loopback address, or half-configured credentials: start-up stops saying why', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const base = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var') };
  const exposed = bot(t, { ...base, TEAMS_ALLOW_ANONYMOUS: '1', DAAAS_HOST: '0.0.0.0' });
  t.is(await exposed.exit, 1);
  t.regex(exposed.stderr(), /The bot did not start: .*TEAMS_ALLOW_ANONYMOUS.*loopback/);
  const half = bot(t, { ...base, clientId: '00000000-0000-0000-0000-000000000001' });
  t.is(await half.exit, 1);
  t.regex(half.stderr(), /The bot did not start: .*clientSecret/);
});
