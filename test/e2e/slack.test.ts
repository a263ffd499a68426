/**
 * The bot as a process with Slack configured from the standard variables, against a fake Slack
 * Web API: HTTP mode on the bot's one server, requests signed as Slack signs them.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FakeSlack, postSigned, slashCommandBody } from '../chat/slack/fake-slack.ts';
import { tempDir } from '../helpers/harness.ts';

const SECRET = 'e2e-signing-secret';
const CONFIG = `
access: { groups: { physics: [alice] } }
scheduler: { poll: 100ms }
cloud: { driver: simulated, simulated: { bootTime: 200ms, latency: 0, flavors: { m1.large: { vcpus: 4 } }, images: [physics-base] } }
provisioner: { driver: simulated, simulated: { provisionTime: 200ms, personaliseTime: 200ms } }
slack: { identity: { domains: [facility.example], contact: the DAaaS team (daaas@facility.example) } }
pools:
  physics: { image: physics-base, flavor: m1.large, size: 1, max: 2, groups: [physics], owner: { name: P, contact: p@facility.example } }
`;

function bot(t: { teardown: (fn: () => void) => void }, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, DAAAS_PORT: '0', ...env }, stdio: 'pipe' });
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

test('SLACK_BOT_TOKEN alone starts Slack without the terminal chat; a signed /daaas claim is acked and answered at the response_url', async (t) => {
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  fake.users.set('UALICE', { email: 'alice@facility.example' });
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const b = bot(t, { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), SLACK_BOT_TOKEN: 'xoxb-e2e', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl });
  await until('listening', () => /"msg":"listening"/.test(b.out()));
  t.regex(b.out(), /"mode":"http","command":"\/daaas","msg":"Slack enabled"/);
  t.false(b.out().includes('alice>'), 'no terminal chat');
  const port = Number(/"port":(\d+)/.exec(b.out())?.[1]);
  await until('the pool full', () => /"msg":"ready"/.test(b.out()));

  const body = slashCommandBody({ user: 'UALICE', text: 'claim physics', responseUrl: fake.responseUrl('claim') });
  const ack = await postSigned(`http://127.0.0.1:${port}/slack/events`, body, { secret: SECRET, timestampSec: Math.floor(Date.now() / 1000) });
  t.is(ack.status, 200);
  await until('the answer at the response_url', () => fake.responses.length > 0);
  t.regex(JSON.stringify(fake.responses[0]), /physics-\w{4} is yours for 2d/);
  t.regex(JSON.stringify(fake.responses[0]), /ephemeral/);
  await until('the home-ready direct message', () => fake.calls.some((c) => c.method === 'chat.postMessage' && JSON.stringify(c).includes('is ready for you')));

  const forged = await postSigned(`http://127.0.0.1:${port}/slack/events`, body, { secret: 'wrong', timestampSec: Math.floor(Date.now() / 1000) });
  t.is(forged.status, 401);
  b.child.kill('SIGTERM');
  t.is(await b.exit, 0);
  t.false(b.out().includes(SECRET) || b.out().includes('xoxb-e2e'), 'no secret in the logs');
});

test('Slack in HTTP mode without a signing secret, or with a refused token: start-up stops saying why', async (t) => {
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const base = { DAAAS_CONFIG: join(dir.path, 'c.yaml'), DAAAS_DATA_DIR: join(dir.path, 'var'), SLACK_API_URL: fake.apiUrl };
  const noSecret = bot(t, { ...base, SLACK_BOT_TOKEN: 'xoxb-e2e', SLACK_SIGNING_SECRET: '' });
  t.is(await noSecret.exit, 2);
  t.regex(noSecret.err(), /The bot did not start: Slack in HTTP mode needs a signing secret \(SLACK_SIGNING_SECRET\)/);
  fake.answerNext('auth.test', { error: 'invalid_auth' });
  const refused = bot(t, { ...base, SLACK_BOT_TOKEN: 'xoxb-revoked', SLACK_SIGNING_SECRET: SECRET });
  t.is(await refused.exit, 2);
  t.regex(refused.err(), /The bot did not start: Slack did not accept the bot token \(SLACK_BOT_TOKEN\): invalid_auth/);
});
