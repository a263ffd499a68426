import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startBot, until, type BotProcess } from '../helpers/bot-process.ts';
import { tempDir } from '../helpers/harness.ts';

/** One pool with boots short enough to watch it resize, drain and refill. */
const CONFIG = `
access:
  admins: []
  localUserIsAdmin: true
  groups: { excitations: [alice] }
scheduler: { poll: 100ms, maxConcurrentBoots: 10 }
cloud:
  driver: simulated
  simulated:
    bootTime: 300ms
    latency: 5ms
    flavors: { c1.large: { vcpus: 4 } }
    images: [excitations-base]
provisioner: { driver: simulated, simulated: { provisionTime: 300ms } }
pools:
  excitations:
    image: excitations-base
    flavor: c1.large
    size: 2
    max: 8
    groups: [excitations]
    owner: { name: Excitations software team, contact: excitations-software@facility.example }
`;

/** The excitations row of the latest `admin pools` answer: [ready, booting, provisioning, claimed, failed, total/max] (the waiting column left out). */
function latestRow(bot: BotProcess): string[] | undefined {
  const out = bot.stdout();
  const at = out.lastIndexOf('• Pools (admin)');
  if (at < 0) return undefined;
  const line = out.slice(at).split('\n').find((l) => /^\s+excitations\s/.test(l));
  const cells = line?.trim().split(/\s{2,}/);
  return cells && [...cells.slice(1, 5), ...cells.slice(6, 8)];
}

/** Asks `admin pools` until the excitations row satisfies `check`. */
async function poolsUntil(bot: BotProcess, what: string, check: (row: string[]) => boolean): Promise<void> {
  let asked = 0;
  await until(what, () => {
    const row = latestRow(bot);
    if (row && check(row)) return true;
    const answers = bot.stdout().split('• Pools (admin)').length - 1;
    if (answers >= asked) {
      asked = answers + 1;
      bot.child.stdin.write('admin pools\n');
    }
    return false;
  });
}

test('the local admin resizes, drains and undrains a pool from the terminal', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const config = join(dir.path, 'config.yaml');
  writeFileSync(config, CONFIG);
  const bot = startBot(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: config });
  await poolsUntil(bot, 'two ready VMs', (row) => row[0] === '2/2');

  const resized = Date.now();
  bot.child.stdin.write('admin resize excitations 7\n');
  await until('the resize answer', () => bot.stdout().includes('✔ excitations keeps 7 VMs warm (configured: 2)'));
  await poolsUntil(bot, 'seven ready VMs', (row) => row[0] === '7/7');
  t.log(`admin resize excitations 7: seven ready ${Date.now() - resized} ms later (boot 300 ms, provisioning 300 ms, poll 100 ms)`);
  t.regex(bot.stdout(), /size 7: set by admin \S+ \(configured 2; admin resize excitations reset\)/);

  bot.child.stdin.write('admin drain excitations --reason image rebuild\n');
  await until('the question', () => bot.stdout().includes('! Close excitations for maintenance?'));
  bot.child.stdin.write('admin drain excitations --reason image rebuild --yes\n');
  await until('the drain answer', () => bot.stdout().includes('✔ excitations is closed for maintenance'));
  bot.child.stdin.write('claim excitations\n');
  await until('the claim refused', () => bot.stdout().includes('✖ excitations is closed for maintenance: image rebuild.'));
  t.regex(bot.stdout(), /✖ excitations is closed for maintenance: image rebuild\.\n\s+Ask Excitations software team \(excitations-software@facility\.example\)\./);
  await poolsUntil(bot, 'the pool empty', (row) => row[0] === '0/0' && row[5] === '0/8');

  bot.child.stdin.write('admin undrain excitations\n');
  await until('the undrain answer', () => bot.stdout().includes('✔ excitations is open again'));
  await poolsUntil(bot, 'refilled to seven', (row) => row[0] === '7/7');
  bot.child.stdin.write('claim excitations\n');
  await until('a claim', () => /✔ excitations-\w{4} is yours for/.test(bot.stdout()));
  await delay(100);
  bot.child.stdin.end();
  t.is(await bot.exit, 0, bot.stderr());
});

/** A provisioner that always fails: every VM boots, then its provisioning fails. */
const FAILING = CONFIG.replace('provisioner: { driver: simulated, simulated: { provisionTime: 300ms } }', 'provisioner: { driver: simulated, simulated: { provisionTime: 300ms, failureRate: 1 } }').replace(
  'scheduler: { poll: 100ms, maxConcurrentBoots: 10 }',
  'scheduler: { poll: 100ms, maxConcurrentBoots: 10, backoffInitial: 200ms, backoffMax: 1s }',
);

test('with a provisioner that always fails, the circuit opens after 3 failures and the local admin sees the alert', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const config = join(dir.path, 'config.yaml');
  writeFileSync(config, FAILING);
  const bot = startBot(t, { DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_CONFIG: config });
  await until('the alert at the terminal', () => bot.stdout().includes('ALERT: pool failing (circuit open): excitations'));
  t.regex(bot.stdout(), /\[direct message to [^\]]+\]\n✖ ALERT: pool failing \(circuit open\): excitations\n\s+excitations stopped booting after 3 boots or provisioning runs failed in a row; the last: excitations-\w{4}: provisioning failed/);

  bot.child.stdin.write('admin pools\n');
  await until('admin pools', () => bot.stdout().includes('• Pools (admin)'));
  await poolsUntil(bot, 'three failed VMs and nothing else', (row) => row[4] === '3' && row[5] === '3/8');
  t.regex(bot.stdout(), /FAILING: 3 failures in a row, booting stopped/);

  bot.child.stdin.write('claim excitations\n');
  await until('the claim refused', () => bot.stdout().includes('✖ No VM is ready in excitations, and none is being made: its last 3 VMs failed to start'));
  t.regex(bot.stdout(), /Ask Excitations software team \(excitations-software@facility\.example\), who maintains its image\./);

  bot.child.stdin.write('admin alerts\n');
  await until('admin alerts', () => /! \d open alerts?/.test(bot.stdout()));
  t.regex(bot.stdout(), /pool failing \(circuit open\): excitations/);
  t.regex(bot.stdout(), /Alerts go to: the terminal/);
  await delay(100);
  bot.child.stdin.end();
  t.is(await bot.exit, 0, bot.stderr());
});
