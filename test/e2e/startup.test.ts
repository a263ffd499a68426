/**
 * Start-up refusals of the bot as a process: each is a line or two on stderr, no stack trace,
 * exit code 1, and nothing left behind that would stop the next start.
 */
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { dataDirLocked } from '../../src/adapters/data-dir-lock.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { startBot, until } from '../helpers/bot-process.ts';
import { tempDir } from '../helpers/harness.ts';
import { readOnlyView } from '../helpers/read-only-dir.ts';

const CONFIG = `
access: { groups: { physics: [alice] } }
cloud:
  driver: simulated
  simulated: { bootTime: 300ms, latency: 5ms, flavors: { m1.large: { vcpus: 4 } }, images: [physics-base] }
pools:
  physics: { image: physics-base, flavor: m1.large, size: 1, max: 2, groups: [physics], owner: { name: Physics, contact: physics@facility.example } }
`;

/** Starts the bot on `dataDir` and checks the refusal's shape; returns its stderr. */
async function refused(t: ExecutionContext, dir: string, dataDir: string, env: Record<string, string> = {}): Promise<string> {
  const config = join(dir, 'config.yaml');
  writeFileSync(config, CONFIG);
  const bot = startBot(t, { DAAAS_DATA_DIR: dataDir, DAAAS_CONFIG: config, ...env }, ['--no-shell']);
  t.is(await bot.exit, 1, bot.stderr());
  const said = bot.stderr().trim();
  t.true(said.split('\n').length <= 2, said);
  t.true(said.startsWith('The bot did not start'), said);
  t.false(/\n\s+at |\.ts:\d+/.test(said), `no stack trace: ${said}`);
  if (existsSync(dataDir)) {
    t.false(existsSync(join(dataDir, 'daaas.pid')), 'no pid file left behind');
    t.false(dataDirLocked(dataDir), 'the lock was given back');
  }
  return said;
}

test('a data directory that is a file, cannot be created, or is read-only', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const file = join(dir.path, 'state');
  writeFileSync(file, 'not a directory');
  t.regex(await refused(t, dir.path, file), /the data directory .*state is not a directory .*set DAAAS_DATA_DIR/);
  t.regex(await refused(t, dir.path, join(file, 'var')), /data directory .*(is not a directory|cannot create)/);

  mkdirSync(join(dir.path, 'source'));
  const view = readOnlyView(join(dir.path, 'source'), dir.path);
  t.teardown(view.release);
  t.regex(await refused(t, dir.path, view.path), /the data directory .* is not writable \((read-only file system|permission denied)\)/);
  t.regex(await refused(t, dir.path, join(view.path, 'var')), /cannot create the data directory/);
});

test('a damaged store, or one from a newer version of the bot, is refused naming what to do', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const damaged = join(dir.path, 'damaged');
  mkdirSync(damaged);
  writeFileSync(join(damaged, 'daaas.db'), 'this is no database, whatever its name says '.repeat(50));
  t.regex(await refused(t, dir.path, damaged), /The bot did not start: The store .*daaas\.db is damaged or not a database .*restore it from a backup/);

  const newer = join(dir.path, 'newer');
  mkdirSync(newer);
  new SqliteStore(join(newer, 'daaas.db')).close();
  const db = new Database(join(newer, 'daaas.db'));
  db.pragma('user_version = 999');
  db.close();
  t.regex(await refused(t, dir.path, newer), /written by a newer version of the bot \(schema 999/);
});

test('a second bot on a data directory in use is refused, and the first keeps it', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const dataDir = join(dir.path, 'var');
  const config = join(dir.path, 'config.yaml');
  writeFileSync(config, CONFIG);
  const first = startBot(t, { DAAAS_DATA_DIR: dataDir, DAAAS_CONFIG: config }, ['--no-shell']);
  await until('the first bot', () => /"msg":"listening"/.test(first.stdout()));
  const second = startBot(t, { DAAAS_DATA_DIR: dataDir, DAAAS_CONFIG: config }, ['--no-shell']);
  t.is(await second.exit, 1);
  t.regex(second.stderr().trim(), new RegExp(`^The bot did not start: another DAaaS bot \\(pid ${first.child.pid}\\) is using the data directory .*; stop it, or set DAAAS_DATA_DIR to another directory$`));
  t.true(existsSync(join(dataDir, 'daaas.pid')), 'the first bot still names itself');
  t.true(dataDirLocked(dataDir));
  first.child.kill('SIGTERM');
  t.is(await first.exit, 0);
  t.false(dataDirLocked(dataDir));
  t.false(existsSync(join(dataDir, 'daaas.pid')));
});
