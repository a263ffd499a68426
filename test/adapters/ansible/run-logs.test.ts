import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunLogs } from '../../../src/adapters/ansible/run-logs.ts';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import { tempDir } from '../../helpers/harness.ts';

test('one file per run, named by VM, time and playbook; two runs in one millisecond stay apart and in order', async (t) => {
  const dir = tempDir('daaas-run-logs-');
  t.teardown(dir.remove);
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 9, 0, 0, 123));
  const logs = new RunLogs({ dir: join(dir.path, 'logs'), clock });
  const first = await logs.open('vm-1', 'provision.yml', clock.now());
  const second = await logs.open('vm-1', 'claim.yaml', clock.now());
  first.write('start');
  await clock.advance(1_000);
  first.write('end');
  await Promise.all([first.close(), second.close()]);
  t.deepEqual(readdirSync(join(dir.path, 'logs')), ['vm-1--20260105T090000.123Z-000--provision.log', 'vm-1--20260105T090000.123Z-001--claim.log']);
  t.is(readFileSync(first.file, 'utf8'), '2026-01-05T09:00:00.123Z start\n2026-01-05T09:00:01.123Z end\n');
});

test("lastLog gives the end of a VM's latest run: this process's first, else the newest file of that VM alone", async (t) => {
  const dir = tempDir('daaas-run-logs-');
  t.teardown(dir.remove);
  const clock = new ManualClock();
  const logs = new RunLogs({ dir: dir.path, clock });
  t.is(await logs.lastLog('vm-1'), undefined);
  const older = join(dir.path, 'vm-1--20260101T000000.000Z-000--provision.log');
  const newer = join(dir.path, 'vm-1--20260102T000000.000Z-000--claim.log');
  writeFileSync(older, 'old\n');
  writeFileSync(newer, 'a\nb\nc\n');
  // Another VM whose name starts the same, and a file that is not a run log.
  writeFileSync(join(dir.path, 'vm-10--20260103T000000.000Z-000--claim.log'), 'not vm-1\n');
  writeFileSync(join(dir.path, 'vm-1--notes.txt'), 'not a log\n');
  t.deepEqual(await logs.lastLog('vm-1', 2), { file: newer, lines: ['b', 'c'] });

  const run = await logs.open('vm-1', 'release.yml', clock.now());
  run.write('this run');
  await run.close();
  t.deepEqual((await logs.lastLog('vm-1'))?.lines, [`${new Date(clock.now()).toISOString()} this run`]);
  await t.throwsAsync(() => logs.lastLog('../etc'), undefined, 'a VM name that is not a plain name is refused');
});

test('a long log is read from its end, without a partial first line', async (t) => {
  const dir = tempDir('daaas-run-logs-');
  t.teardown(dir.remove);
  const file = join(dir.path, 'vm-big--20260101T000000.000Z-000--provision.log');
  const lines = Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 17)}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const tail = await new RunLogs({ dir: dir.path, clock: new ManualClock() }).lastLog('vm-big', 100_000);
  t.is(tail?.lines.at(-1), lines.at(-1));
  t.true(tail!.lines.length < lines.length);
  t.true(tail!.lines.every((line) => lines.includes(line)), 'every line returned is whole');
});

test('rotation: each VM keeps its newest logs, and all logs together stay under the size cap, oldest first; a log being written is kept', async (t) => {
  const dir = tempDir('daaas-run-logs-');
  t.teardown(dir.remove);
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 9));
  const logs = new RunLogs({ dir: dir.path, clock, keepPerVm: 3, maxTotalBytes: 10_000 });
  for (let i = 0; i < 5; i++) {
    const run = await logs.open('vm-1', 'claim.yml', clock.now());
    run.write(`run ${i}`);
    await run.close();
    await clock.advance(1_000);
  }
  const other = await logs.open('vm-2', 'provision.yml', clock.now());
  await other.close();
  await logs.idle();
  const names = readdirSync(dir.path).sort();
  t.deepEqual(names.filter((n) => n.startsWith('vm-1--')), ['vm-1--20260105T090002.000Z-002--claim.log', 'vm-1--20260105T090003.000Z-003--claim.log', 'vm-1--20260105T090004.000Z-004--claim.log']);
  t.regex((await logs.lastLog('vm-1'))!.lines[0]!, /run 4$/);

  // A small cap: the oldest logs go, whichever VM they belong to, but not the one being written.
  writeFileSync(join(dir.path, 'vm-0--20260101T000000.000Z-000--claim.log'), 'x'.repeat(200));
  const capped = new RunLogs({ dir: dir.path, clock, keepPerVm: 3, maxTotalBytes: 120 });
  await clock.advance(1_000);
  const big = await capped.open('vm-3', 'claim.yml', clock.now());
  await capped.idle();
  const afterFirst = readdirSync(dir.path);
  t.false(afterFirst.includes('vm-0--20260101T000000.000Z-000--claim.log'), 'the oldest log, of another VM, went first');
  t.true(afterFirst.includes('vm-1--20260105T090002.000Z-002--claim.log'), 'and no more than needed');
  writeFileSync(big.file, 'y'.repeat(200));
  await clock.advance(1_000);
  const next = await capped.open('vm-2', 'release.yml', clock.now());
  await capped.idle();
  const left = readdirSync(dir.path).sort();
  t.true(left.includes(big.file.slice(dir.path.length + 1)), 'the log being written stays, even over the cap');
  t.true(left.includes(next.file.slice(dir.path.length + 1)));
  t.deepEqual(left.filter((n) => n.startsWith('vm-1--')), [], 'the older ones went to make room');
  await Promise.all([big.close(), next.close()]);
});
