/**
 * The data directory's lock, between real processes: two started at the same moment, a holder
 * killed outright, and the refusals for directories that cannot be used.
 */
import test from 'ava';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirError, dataDirLocked, lockDataDir } from '../../src/adapters/data-dir-lock.ts';
import { tempDir } from '../helpers/harness.ts';
import { readOnlyView } from '../helpers/read-only-dir.ts';

const TRIALS = 100;

/**
 * A process that loads the lock module and says "ready"; then, for each "go DIR" on stdin, tries
 * to lock DIR and says "won" or "lost …", holding what it got until "release".
 */
const CONTENDER = `
import { createInterface } from 'node:readline';
import { lockDataDir } from './src/adapters/data-dir-lock.ts';
let unlock;
process.stdout.write('ready\\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line.startsWith('go ')) {
    try { unlock = lockDataDir(line.slice(3)); process.stdout.write('won\\n'); }
    catch (e) { process.stdout.write('lost ' + e.message + '\\n'); }
  } else if (line === 'release') { unlock?.(); unlock = undefined; process.stdout.write('released\\n'); }
}
`;

interface Contender {
  child: ChildProcessWithoutNullStreams;
  /** The next line of output that matches, from the `from`-th line on. */
  next: (pattern: RegExp) => Promise<string>;
}

function contender(t: { teardown: (fn: () => void) => void }): Contender {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CONTENDER], { stdio: 'pipe' });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  const lines: string[] = [];
  let partial = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  const next = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const index = lines.findIndex((l) => pattern.test(l));
        if (index >= 0) return resolve(lines.splice(0, index + 1).at(-1)!);
        if (child.exitCode !== null) return reject(new Error(`contender exited: ${lines.join(' | ')}`));
        waiters.push(check);
      };
      check();
    });
  return { child, next };
}

test(`two processes locking one directory at the same moment: exactly one wins, in ${TRIALS} of ${TRIALS} trials`, async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const pair = [contender(t), contender(t)];
  await Promise.all(pair.map((c) => c.next(/^ready$/)));
  let exactlyOne = 0;
  const outcomes: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const dataDir = join(dir.path, `trial-${trial}`);
    for (const c of pair) c.child.stdin.write(`go ${dataDir}\n`);
    const results = await Promise.all(pair.map((c) => c.next(/^(won|lost)/)));
    if (results.filter((r) => r === 'won').length === 1) exactlyOne++;
    else outcomes.push(`trial ${trial}: ${results.join(' | ')}`);
    const lost = results.find((r) => r.startsWith('lost'));
    if (lost) t.regex(lost, /another DAaaS bot \(pid \d+\) is using the data directory|another DAaaS bot is using the data directory/);
    for (const c of pair) c.child.stdin.write('release\n');
    await Promise.all(pair.map((c) => c.next(/^released$/)));
  }
  for (const c of pair) c.child.stdin.end();
  t.is(exactlyOne, TRIALS, outcomes.slice(0, 5).join('\n'));
});

test('a holder killed outright leaves nothing that stops the next start', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const holder = contender(t);
  await holder.next(/^ready$/);
  holder.child.stdin.write(`go ${dir.path}\n`);
  t.is(await holder.next(/^(won|lost)/), 'won');
  t.true(dataDirLocked(dir.path));
  t.throws(() => lockDataDir(dir.path), { instanceOf: DataDirError, message: new RegExp(`another DAaaS bot \\(pid ${holder.child.pid}\\)`) });
  holder.child.kill('SIGKILL');
  await new Promise((resolve) => holder.child.once('exit', resolve));
  t.true(existsSync(join(dir.path, 'daaas.pid')), 'the killed holder could not tidy up');
  t.false(dataDirLocked(dir.path));
  const unlock = lockDataDir(dir.path);
  unlock();
  t.false(existsSync(join(dir.path, 'daaas.pid')), 'a clean stop removes its pid file');
});

test('directories that cannot be used are refused in one line, naming the fix', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const file = join(dir.path, 'a-file');
  writeFileSync(file, '');
  const asFile = t.throws(() => lockDataDir(file), { instanceOf: DataDirError });
  t.regex(asFile.message, /is not a directory.*DAAAS_DATA_DIR/);
  const under = t.throws(() => lockDataDir(join(file, 'var')), { instanceOf: DataDirError });
  t.regex(under.message, /not a directory|cannot create/);

  mkdirSync(join(dir.path, 'source'));
  const view = readOnlyView(join(dir.path, 'source'), dir.path);
  t.teardown(view.release);
  const readOnly = t.throws(() => lockDataDir(view.path), { instanceOf: DataDirError });
  t.regex(readOnly.message, /is not writable \((read-only file system|permission denied)\)/);
  const notCreatable = t.throws(() => lockDataDir(join(view.path, 'var')), { instanceOf: DataDirError });
  t.regex(notCreatable.message, /cannot create the data directory .*(read-only file system|permission denied)/);
  for (const e of [asFile, under, readOnly, notCreatable]) t.false(e.message.includes('\n'));
});
