import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { SimActivityProbe } from '../../src/adapters/sim-activity.ts';
import type { LeaseView, PoolSpec } from '../../src/core/model.ts';
import { tempDir } from '../helpers/harness.ts';

const H = 3_600_000;
const clock = new ManualClock(10 * H);
const lease = { id: 'l', user: 'alice', claimedAt: 0, vm: { name: 'excitations-ab12' } } as LeaseView;
const request = (paths = ['/tmp', '/scratch']) => ({ lease, pool: { gpu: false } as PoolSpec, paths, signal: new AbortController().signal });

test('unscripted VMs are idle; a script gives a session, a busy job, files in the probed paths', async (t) => {
  const probe = new SimActivityProbe({ clock });
  const idle = await probe.probe(request());
  t.deepEqual([idle.sessions, idle.busy, idle.files.count], [[], [], 0]);
  probe.set('excitations-ab12', { state: 'busy', job: { command: 'python', cpuPercent: 390 }, files: [{ path: '/scratch/a', bytes: 5 }, { path: '/home/alice/b', bytes: 7 }] });
  const busy = await probe.probe(request());
  t.deepEqual(busy.busy, [{ pid: 4242, command: 'python', elapsedMs: 10 * H, cpuPercent: 390, gpu: false }]);
  t.is(busy.sessions.length, 1);
  t.deepEqual([busy.files.count, busy.files.bytes], [1, 5], 'the home is not a probed path');
});

test('a script file is read at every probe, so the terminal’s VMs can be scripted while the bot runs', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const file = join(dir.path, 'sim-activity.json');
  const probe = new SimActivityProbe({ clock, file });
  t.is((await probe.probe(request())).busy.length, 0, 'no file: idle');
  writeFileSync(file, JSON.stringify({ 'excitations-ab12': { state: 'session', session: 'remote-desktop' } }));
  t.is((await probe.probe(request())).sessions[0]?.kind, 'remote-desktop');
  writeFileSync(file, JSON.stringify({ 'excitations-ab12': { state: 'fails' } }));
  await t.throwsAsync(probe.probe(request()), { message: /did not answer/ });
  writeFileSync(file, '{ not json');
  t.is((await probe.probe(request())).sessions.length, 0, 'an unreadable file: idle, as without one');
});
