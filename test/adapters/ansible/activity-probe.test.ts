import avaTest from 'ava';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, lstatSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ActivityProbeError, AnsibleActivityProbe } from '../../../src/adapters/ansible/activity-probe.ts';
import { sandboxVars } from '../../../src/adapters/ansible/ansible-provisioner.ts';
import { AnsibleRunError } from '../../../src/adapters/ansible/ansible-runner.ts';
import type { LeaseView } from '../../../src/core/model.ts';
import { ansibleSuite, isRoot, makeRunner, makeSandbox, poolFor, vmFor } from './sandbox.ts';

const test = ansibleSuite(avaTest, 'the activity probe tests', 'test/adapters/ansible/activity-probe.test.ts');

// activity.yml run by the real ansible-playbook on this machine (local connection) against a
// sandbox: a holder account running a real busy loop, a utmp file naming its session, and files
// written in the sandbox's scratch paths. Without ansible-playbook: listed as not run.

interface Holder {
  name: string;
  uid: number;
  gid: number;
  remove: () => Promise<void>;
}

/** As root a throwaway account made for the test; otherwise the test's own user. */
async function holder(): Promise<Holder> {
  if (!isRoot) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, remove: async () => {} };
  }
  const name = `daaasa_${randomBytes(4).toString('hex')}`;
  await execa('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  const uid = Number((await execa('id', ['-u', name])).stdout);
  const gid = Number((await execa('id', ['-g', name])).stdout);
  return { name, uid, gid, remove: async () => void (await execa('userdel', [name], { reject: false })) };
}

/** A busy loop running as the holder. */
function busyLoop(h: Holder): ChildProcess {
  return spawn('sh', ['-c', 'while :; do :; done'], { uid: h.uid, gid: h.gid, cwd: '/', stdio: 'ignore', detached: false });
}

/** One struct utmp record (Linux, 384 bytes). */
function utmpRecord(type: number, pid: number, line: string, user: string, host: string, sec: number): Buffer {
  const b = Buffer.alloc(384);
  b.writeInt16LE(type, 0);
  b.writeInt32LE(pid, 4);
  b.write(line, 8, 32);
  b.write(line.slice(-4), 40, 4);
  b.write(user, 44, 32);
  b.write(host, 76, 256);
  b.writeInt32LE(sec, 340);
  return b;
}

function writeFile(h: Holder, path: string, bytes: number, mtimeMs?: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, Buffer.alloc(bytes, 7));
  if (isRoot) chownSync(path, h.uid, h.gid);
  if (mtimeMs !== undefined) utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
}

/** Every path under `dir` with its size, mode and mtime: what "changes nothing" is checked on. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = lstatSync(p);
      out.push(`${p} ${s.size} ${s.mode} ${s.mtimeMs} ${s.uid}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function leaseFor(user: string, claimedAt: number): LeaseView {
  const vm = { ...vmFor('excitations-ab12'), state: 'claimed' as const };
  return { id: 'lease-1', vmId: vm.id, pool: 'excitations', user, platform: 'shell', conversation: 'c', claimedAt, expiresAt: claimedAt + 86_400_000, extensionsUsed: 0, homeReadyAt: claimedAt, endedAt: null, endReason: null, vm };
}

async function world(t: { teardown: (fn: () => void | Promise<void>) => void }) {
  const sandbox = makeSandbox();
  t.teardown(sandbox.remove);
  const h = await holder();
  t.teardown(h.remove);
  const loop = busyLoop(h);
  t.teardown(() => void loop.kill('SIGKILL'));
  const claimedAt = Date.now() - 3_600_000;
  const root = sandbox.root;
  writeFile(h, join(root, 'scratch/run42/output.nxs'), 2_100_000);
  writeFile(h, join(root, 'tmp/notes.txt'), 1_000);
  writeFile(h, join(root, 'scratch/run41/old.nxs'), 5_000, claimedAt - 86_400_000); // before the lease
  writeFile(h, join(root, `home/${h.name}/kept.txt`), 9_000); // the persistent home: never counted
  mkdirSync(join(root, 'data/local'), { recursive: true });
  writeFileSync(join(root, 'data/local/someone-else.dat'), Buffer.alloc(4_000)); // the test's own user's (root's, as root)
  mkdirSync(join(root, 'var/run'), { recursive: true });
  const sec = Math.floor(claimedAt / 1000) + 60;
  writeFileSync(
    join(root, 'var/run/utmp'),
    Buffer.concat([
      utmpRecord(7, loop.pid!, 'pts/3', h.name, '10.0.0.7', sec),
      utmpRecord(7, 999_999_999, 'pts/4', h.name, '10.0.0.8', sec), // its process is gone
      utmpRecord(7, process.pid, 'pts/5', 'someoneelse', '10.0.0.9', sec),
      utmpRecord(8, loop.pid!, 'pts/6', h.name, '10.0.0.10', sec), // DEAD_PROCESS
    ]),
  );
  const runner = makeRunner(sandbox.logDir);
  // A loaded machine shares its cores: 5 % over a two-second sample is still plainly busy.
  const extraVars = { ...sandboxVars(root), activity_busy_cpu: 5, activity_sample_seconds: 2 };
  const probe = new AnsibleActivityProbe({ runner, target: 'local', extraVars });
  return { root, h, loop, runner, probe, lease: leaseFor(h.name, claimedAt), claimedAt, extraVars, sec };
}

const request = (lease: LeaseView, paths = ['/tmp', '/scratch', '/data/local']) => ({ lease, pool: poolFor('excitations'), paths, signal: new AbortController().signal });

test('activity.yml reports the holder’s session, busy loop and changed files, and changes nothing', async (t) => {
  const w = await world(t);
  const before = snapshot(w.root);
  const report = await w.probe.probe(request(w.lease));

  t.deepEqual(report.sessions, [{ user: w.h.name, kind: 'ssh', since: w.sec * 1000, from: '10.0.0.7' }]);
  const loop = report.busy.find((p) => p.pid === w.loop.pid);
  t.truthy(loop, `the busy loop ${w.loop.pid} is reported: ${JSON.stringify(report.busy)}`);
  t.is(loop!.command, 'sh');
  t.true(loop!.cpuPercent >= 5);
  t.false(loop!.gpu);
  t.true(report.busy.every((p) => p.cpuPercent >= 5), 'only busy processes');

  t.is(report.files.count, 2, 'the two files written during the lease, not the old one, the home’s or another user’s');
  t.is(report.files.bytes, 2_101_000);
  t.deepEqual(report.files.largest.map((f) => [f.path, f.bytes]), [['/scratch/run42/output.nxs', 2_100_000], ['/tmp/notes.txt', 1_000]]);
  t.is(report.files.newest.length, 2);
  t.false(report.files.truncated);
  t.is(report.load.length, 3);
  t.deepEqual(report.gpuPercent, []);

  const run = w.runner.results.at(-1)!;
  t.true(run.ok);
  t.is(Object.values(run.stats)[0]!.changed, 0, 'no task changed anything');
  t.deepEqual(snapshot(w.root), before, 'the sandbox is as it was');
  // Idempotent: a second look sees the same.
  const again = await w.probe.probe(request(w.lease));
  t.deepEqual(again.files, report.files);
  t.deepEqual(snapshot(w.root), before);
});

test('with nothing running and nothing written the report is empty (idle)', async (t) => {
  const w = await world(t);
  w.loop.kill('SIGKILL');
  await new Promise((r) => w.loop.once('exit', r));
  const report = await w.probe.probe(request(w.lease, ['/nowhere']));
  t.deepEqual(report.sessions, [], 'the session of a process that is gone is not counted');
  t.deepEqual(report.busy.filter((p) => p.command === 'sh'), []);
  t.is(report.files.count, 0);
});

test('a probe that cannot look fails: an unknown account, a timeout', async (t) => {
  const w = await world(t);
  const missing = { ...w.lease, user: 'nosuchuser_zz' };
  const error = await t.throwsAsync(w.probe.probe(request(missing)), { instanceOf: ActivityProbeError });
  t.regex(error!.message, /there is no account nosuchuser_zz/);
  const slow = new AnsibleActivityProbe({ runner: w.runner, target: 'local', extraVars: { ...w.extraVars, activity_sample_seconds: 60 }, timeoutMs: 8_000 });
  await t.throwsAsync(slow.probe(request(w.lease)), { instanceOf: AnsibleRunError });
});

/** The monitor on the real play: a store holding the holder's lease, probes on demand. */
async function monitorOn(w: Awaited<ReturnType<typeof world>>, user: string, waiting = 0) {
  const [{ SqliteStore }, { SqliteActivity }, { ActivityMonitor, DEFAULT_ACTIVITY }, { SystemClock }, { silentLogger }] = await Promise.all([
    import('../../../src/adapters/sqlite/sqlite-store.ts'),
    import('../../../src/adapters/sqlite/activity.ts'),
    import('../../../src/scheduler/activity-monitor.ts'),
    import('../../../src/adapters/system-clock.ts'),
    import('../../../src/ports/logger.ts'),
  ]);
  const clock = new SystemClock();
  const store = new SqliteStore(':memory:');
  const pool = { ...poolFor('excitations'), idle: { afterMs: 1, releaseAfterMs: null } };
  const vm = store.createVm({ pool: pool.name, image: 'img', flavor: 'flv', createdAt: w.claimedAt });
  store.updateVm(vm.id, { state: 'ready', readyAt: w.claimedAt }, w.claimedAt);
  const claim = store.claim({ pool: pool.name, user, platform: 'test', conversation: 'c', now: w.claimedAt, leaseMs: 48 * 3_600_000, maxLeasesPerUser: 1 });
  if (!claim.ok) throw new Error('no claim');
  const activity = new SqliteActivity(store.db);
  const monitor = new ActivityMonitor({ store, activity, probe: w.probe, clock, log: silentLogger, pools: [pool], settings: { ...DEFAULT_ACTIVITY, paths: ['/nowhere'], timeoutMs: 60_000 }, waiting: () => waiting });
  const probeTwice = async () => {
    for (let i = 0; i < 2; i++) await monitor.probeAndRecord(store.getLease(claim.lease.id)!);
  };
  return { store, activity, monitor, clock, lease: claim.lease, probeTwice };
}

test('through the monitor: a play that fails is unknown, never idle; an idle holder is asked', async (t) => {
  const w = await world(t);
  w.loop.kill('SIGKILL');
  await new Promise((r) => w.loop.once('exit', r));
  const failing = await monitorOn(w, 'nosuchuser_zz');
  await failing.probeTwice();
  const unknown = failing.activity.leaseActivity(failing.lease.id)!;
  t.regex(unknown.lastError!, /there is no account nosuchuser_zz/);
  t.is(unknown.idleSince, null);
  t.deepEqual(failing.store.outboxMessages().filter((m) => m.kind === 'idle'), [], 'no idle question on an unknown VM');
  const idle = await monitorOn(w, w.h.name);
  await idle.probeTwice();
  t.not(idle.activity.leaseActivity(idle.lease.id)!.idleSince, null);
  t.is(idle.store.outboxMessages().filter((m) => m.kind === 'idle').length, 1, 'the idle holder is asked');
});

test('through the monitor: the real busy loop gets one grace at expiry when nobody waits, none while someone does; the real files make the unsaved-work lines', async (t) => {
  const w = await world(t);
  const [{ unsavedWork }] = await Promise.all([import('../../../src/core/activity.ts')]);
  const free = await monitorOn(w, w.h.name);
  await free.monitor.probeAndRecord(free.store.getLease(free.lease.id)!);
  const at = free.clock.now();
  const first = free.store.transaction(() => free.monitor.atExpiry(free.store.getLease(free.lease.id)!, at));
  t.true('graceUntil' in first, JSON.stringify(first));
  const again = free.store.transaction(() => free.monitor.atExpiry(free.store.getLease(free.lease.id)!, at + 2 * 3_600_000));
  t.regex(String((again as { job: string | null }).job), /^sh \(/, 'no second grace; the job is named');
  t.deepEqual(free.store.auditLog().filter((a) => a.action === 'grace').map((a) => a.result), ['ok', 'given-before']);

  const crowded = await monitorOn(w, w.h.name, 1);
  await crowded.monitor.probeAndRecord(crowded.store.getLease(crowded.lease.id)!);
  const refused = crowded.store.transaction(() => crowded.monitor.atExpiry(crowded.store.getLease(crowded.lease.id)!, crowded.clock.now()));
  t.false('graceUntil' in refused);
  t.regex(String((refused as { job: string | null }).job), /^sh \(/);

  const report = await w.probe.probe(request(w.lease));
  t.deepEqual(unsavedWork(report.files), [
    '2.1 MB in 2 files outside your home directory will be lost, such as /scratch/run42/output.nxs (2.1 MB).',
    '  /scratch/run42/output.nxs (2.1 MB)',
    '  /tmp/notes.txt (1.0 kB)',
  ]);
  t.deepEqual(unsavedWork((await w.probe.probe(request(w.lease, ['/nowhere']))).files), [], 'nothing when nothing changed');
});

test('on a GPU pool the play asks nvidia-smi: GPU use, and the holder’s process holding a GPU', async (t) => {
  const w = await world(t);
  // A stand-in nvidia-smi on the play's PATH, answering as the real one does with these queries.
  const bin = join(w.root, '..', 'fake-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'nvidia-smi'), '#!/bin/sh\ncase "$1" in\n  --query-gpu=*) echo 73; echo 5 ;;\n  --query-compute-apps=*) echo "$DAAAS_FAKE_GPU_PID" ;;\nesac\n', { mode: 0o755 });
  const runner = makeRunner(join(w.root, '..', 'gpu-logs'), { env: { PATH: `${bin}:${process.env.PATH ?? ''}`, DAAAS_FAKE_GPU_PID: String(w.loop.pid) } });
  const probe = new AnsibleActivityProbe({ runner, target: 'local', extraVars: w.extraVars });
  const report = await probe.probe({ ...request(w.lease), pool: poolFor('excitations-gpu', true) });
  t.deepEqual(report.gpuPercent, [73, 5]);
  t.like(report.busy.find((p) => p.pid === w.loop.pid), { command: 'sh', gpu: true });
  const cpuOnly = await probe.probe(request(w.lease));
  t.deepEqual(cpuOnly.gpuPercent, [], 'a pool without GPUs does not ask');
});
