/**
 * The bot as a process with Teams in its local anonymous mode, against a fake connector
 * service: Teams-shaped activities posted to POST /api/messages on the bot's one server.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FakeConnector, personalMessage, postActivity, type TestUser } from '../chat/teams/fake-connector.ts';
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

function bot(t: { teardown: (fn: () => void) => void }, env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(clientId|clientSecret|tenantId|MicrosoftApp|Connections__|SLACK_)/i.test(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...clean, DAAAS_PORT: '0', ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  return { child, out: () => out, err: () => err, exit };
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

test('TEAMS_ALLOW_ANONYMOUS on loopback: a personal "claim physics" is answered at the connector, and the home-ready message follows proactively', async (t) => {
  const fake = await FakeConnector.start();
  t.teardown(() => fake.close());
  fake.members.set(ALICE.id, { id: ALICE.id, aadObjectId: ALICE.aadObjectId, name: ALICE.name, userPrincipalName: 'alice@facility.example', userRole: 'user' });
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const b = bot(t, { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), TEAMS_ALLOW_ANONYMOUS: '1', DAAAS_HOST: '127.0.0.1' });
  await until('Teams enabled', () => /"msg":"Teams enabled"/.test(b.out()));
  t.regex(b.out(), /"mode":"anonymous"/);
  const port = Number(/"port":(\d+)/.exec(b.out())?.[1]);
  await until('the pool full', () => /"msg":"ready"/.test(b.out()));

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
  t.is(await exposed.exit, 2);
  t.regex(exposed.err(), /The bot did not start: .*TEAMS_ALLOW_ANONYMOUS.*loopback/);
  const half = bot(t, { ...base, clientId: '00000000-0000-0000-0000-000000000001' });
  t.is(await half.exit, 2);
  t.regex(half.err(), /The bot did not start: .*clientSecret/);
});
