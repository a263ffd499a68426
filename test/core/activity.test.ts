import test from 'ava';
import { activityOf, afterProbe, describeJob, emptyActivity, formatBytes, graceAtExpiry, idleStep, rulesOf, unsavedWork, type ActivityRules } from '../../src/core/activity.ts';
import type { LeaseView } from '../../src/core/model.ts';
import type { ActivityReport, ChangedFile, LeaseActivity } from '../../src/ports/activity.ts';

const H = 3_600_000;
const lease = { id: 'l1', pool: 'excitations', expiresAt: 48 * H, claimedAt: 0 } as LeaseView;
const rules: ActivityRules = { idleAfterMs: 12 * H, idleReleaseAfterMs: null, graceWhenBusyMs: 2 * H };

const report = (over: Partial<ActivityReport> = {}): ActivityReport => ({
  at: 0,
  sessions: [],
  busy: [],
  load: [0, 0, 0],
  gpuPercent: [],
  files: { count: 0, bytes: 0, largest: [], newest: [], truncated: false },
  ...over,
});
const idle = { ok: true as const, report: report() };
const busy = { ok: true as const, report: report({ busy: [{ pid: 7, command: 'python', elapsedMs: 3 * H + 12 * 60_000, cpuPercent: 390, gpu: false }] }) };
const session = { ok: true as const, report: report({ sessions: [{ user: 'alice', kind: 'ssh', since: 0 }] }) };
const failed = { ok: false as const, at: 0, error: 'timed out' };

/** Probes every hour from `from`, giving the record after the last. */
function probes(results: { ok: boolean }[], from = 0, start: LeaseActivity = emptyActivity(lease)): LeaseActivity {
  let record = start;
  results.forEach((r, i) => (record = afterProbe(record, r as typeof idle, from + i * H).record));
  return record;
}

test('activity: busy with a process or a busy GPU, in use with only a session, idle with neither, unknown without a report', (t) => {
  t.is(activityOf(busy.report), 'busy');
  t.is(activityOf(report({ gpuPercent: [0, 80] })), 'busy');
  t.is(activityOf(session.report), 'in-use');
  t.is(activityOf(idle.report), 'idle');
  t.is(activityOf(null), 'unknown');
});

test('an idle run counts idle time between idle probes, and a busy or failed probe ends it', (t) => {
  const r = probes([idle, idle, idle]);
  t.is(r.idleSince, 0);
  t.is(r.idleMs, 2 * H);
  const broken = probes([idle, idle, failed, idle], 0);
  t.is(broken.idleSince, 3 * H, 'a failed probe is never idle: the run starts again after it');
  t.is(broken.idleMs, H, 'and the unknown hour is not counted');
  t.is(probes([idle, busy]).idleSince, null);
  t.is(probes([idle, session]).idleSince, null);
});

test('the idle prompt: after idle.after, once per idle run', (t) => {
  const at11 = probes(Array(12).fill(idle)); // idle from 0, last probe at 11 h
  t.is(idleStep(at11, rules, 0, 11 * H), null);
  const at12 = probes(Array(13).fill(idle));
  t.deepEqual(idleStep(at12, rules, 0, 12 * H), { kind: 'prompt', idleMs: 12 * H });
  const asked = { ...at12, promptedAt: 12 * H };
  t.is(idleStep(asked, rules, 0, 20 * H), null, 'asked once');
  t.is(idleStep(asked, rules, 5, 40 * H), null, 'no release when the pool does not release idle VMs');
  // A new idle run after activity is a new question.
  const again = probes([busy, ...Array(13).fill(idle)], 13 * H, asked);
  t.deepEqual(idleStep(again, rules, 0, 26 * H), { kind: 'prompt', idleMs: 12 * H });
});

test('Keep it silences the prompt for another idle period', (t) => {
  const kept = { ...probes(Array(13).fill(idle)), promptedAt: 12 * H, keptAt: 13 * H };
  t.is(idleStep(kept, rules, 0, 24 * H), null);
  t.deepEqual(idleStep(kept, rules, 0, 25 * H), { kind: 'prompt', idleMs: 25 * H });
  t.is(idleStep(kept, { ...rules, idleReleaseAfterMs: H }, 3, 20 * H), null, 'a kept VM is not released');
});

test('idle release: only with idle.releaseAfter, after the question went unanswered that long, only while someone waits', (t) => {
  const r = { ...rules, idleReleaseAfterMs: 2 * H };
  const asked = { ...probes(Array(15).fill(idle)), promptedAt: 12 * H };
  t.is(idleStep(asked, r, 1, 13 * H), null, 'too soon after the question');
  t.is(idleStep(asked, r, 0, 14 * H), null, 'nobody waits');
  t.deepEqual(idleStep(asked, r, 1, 14 * H), { kind: 'release', idleMs: 14 * H });
  t.is(idleStep({ ...asked, lastError: 'unreachable', idleSince: null }, r, 1, 14 * H), null, 'unknown is never idle');
});

test('grace at expiry: once, for a busy VM, not while others wait, not when the pool says 0, not when unknown', (t) => {
  const isBusy = probes([busy]);
  const g = graceAtExpiry(lease, isBusy, rules, 0, 48 * H);
  t.deepEqual(g, { grant: true, until: 50 * H, job: 'python (3h 12m, 390% CPU)' });
  t.deepEqual(graceAtExpiry(lease, { ...isBusy, grace: { at: 48 * H, until: 50 * H, job: 'python' } }, rules, 0, 50 * H), { grant: false, reason: 'given-before', job: 'python (3h 12m, 390% CPU)' });
  t.deepEqual(graceAtExpiry(lease, isBusy, rules, 2, 48 * H), { grant: false, reason: 'waiting', job: 'python (3h 12m, 390% CPU)' });
  t.is(graceAtExpiry(lease, isBusy, { ...rules, graceWhenBusyMs: 0 }, 0, 48 * H).grant, false);
  t.like(graceAtExpiry(lease, isBusy, { ...rules, graceWhenBusyMs: 0 }, 0, 48 * H), { reason: 'pool-allows-none' });
  t.like(graceAtExpiry(lease, probes([failed]), rules, 0, 48 * H), { grant: false, reason: 'unknown' });
  t.like(graceAtExpiry(lease, undefined, rules, 0, 48 * H), { grant: false, reason: 'unknown' });
  t.like(graceAtExpiry(lease, probes([session]), rules, 0, 48 * H), { grant: false, reason: 'not-busy' });
});

test('the job named: the busiest process, and how many more', (t) => {
  const two = report({ busy: [{ pid: 1, command: 'sh', elapsedMs: 60_000, cpuPercent: 12, gpu: false }, { pid: 2, command: 'mantid', elapsedMs: 2 * H, cpuPercent: 99.6, gpu: true }] });
  t.is(describeJob(two), 'mantid (2h, 100% CPU, GPU) and 1 more');
  t.is(describeJob(report({ gpuPercent: [70] })), 'a GPU job (70% GPU)');
});

const file = (path: string, bytes: number): ChangedFile => ({ path, bytes, modifiedAt: 0 });

test('unsaved work: nothing when nothing changed', (t) => {
  t.deepEqual(unsavedWork(undefined), []);
  t.deepEqual(unsavedWork({ count: 0, bytes: 0, largest: [], newest: [], truncated: false }), []);
});

test('unsaved work: a few files, largest first, with a total', (t) => {
  const largest = [file('/tmp/notes.txt', 1_000), file('/scratch/run42/output.nxs', 2_100_000_000)];
  t.deepEqual(unsavedWork({ count: 2, bytes: 2_100_001_000, largest, newest: [], truncated: false }), [
    '2.1 GB in 2 files outside your home directory will be lost, such as /scratch/run42/output.nxs (2.1 GB).',
    '  /scratch/run42/output.nxs (2.1 GB)',
    '  /tmp/notes.txt (1.0 kB)',
  ]);
});

test('unsaved work: many files, at most ten lines and a total', (t) => {
  const largest = Array.from({ length: 10 }, (_, i) => file(`/scratch/f${i}`, (10 - i) * 100_000_000));
  const lines = unsavedWork({ count: 41, bytes: 3_200_000_000, largest, newest: [], truncated: false });
  t.is(lines[0], '3.2 GB in 41 files outside your home directory will be lost, such as /scratch/f0 (1.0 GB).');
  t.is(lines.length, 11);
  t.is(lines[9], '  /scratch/f8 (200 MB)');
  t.is(lines[10], '  …and 32 more');
  t.regex(unsavedWork({ count: 41, bytes: 3_200_000_000, largest, newest: [], truncated: true })[0]!, /^at least 3\.2 GB/);
});

test('bytes read as people read them; pool rules default to 12 h idle, 2 h grace, no release', (t) => {
  t.deepEqual([512, 12_345, 340_000_000, 2_100_000_000].map(formatBytes), ['512 B', '12.3 kB', '340 MB', '2.1 GB']);
  t.deepEqual(rulesOf({} as never), { idleAfterMs: 12 * H, idleReleaseAfterMs: null, graceWhenBusyMs: 2 * H });
});
