import test from 'ava';
import { describeEvent, parseEventLine, PlayReport, type PlayEvent } from '../../../src/adapters/ansible/ansible-events.ts';

// Lines as the daaas_jsonl callback writes them (json.dumps with sorted keys).
const LINES = [
  '{"event": "play_start", "play": "Provision"}',
  '{"event": "task_start", "role": "baseline", "task": "baseline : Install packages"}',
  '{"event": "result", "host": "vm-1", "role": "baseline", "status": "changed", "task": "baseline : Install packages"}',
  '{"event": "task_start", "task": "Probe"}',
  '{"event": "result", "host": "vm-1", "ignored": true, "msg": "non-zero return code", "rc": 2, "status": "failed", "task": "Probe"}',
  '{"event": "task_start", "task": "Mount home store"}',
  '{"event": "result", "host": "vm-1", "msg": "mount: permission denied", "rc": 32, "status": "failed", "task": "Mount home store"}',
  '{"event": "task_start", "handler": true, "task": "restart sshd"}',
  '{"custom": {"vm-1": {"home_created": true}}, "event": "stats", "hosts": {"vm-1": {"changed": 1, "failures": 1, "ignored": 1, "ok": 2, "rescued": 0, "skipped": 0, "unreachable": 0}}}',
];

test('each callback event is read into its kind, with only the fields the callback set', (t) => {
  const events = LINES.map(parseEventLine);
  t.deepEqual(events[0], { kind: 'play_start', play: 'Provision' });
  t.deepEqual(events[1], { kind: 'task_start', task: 'baseline : Install packages', handler: false });
  t.deepEqual(events[2], { kind: 'result', result: { host: 'vm-1', task: 'baseline : Install packages', role: 'baseline', status: 'changed' } });
  t.deepEqual(events[4], { kind: 'result', result: { host: 'vm-1', task: 'Probe', status: 'failed', msg: 'non-zero return code', rc: 2, ignored: true } });
  t.deepEqual(events[7], { kind: 'task_start', task: 'restart sshd', handler: true });
  t.like(events[8], { kind: 'stats', custom: { 'vm-1': { home_created: true } } });
});

test('a play report collects results, the recap and the set_stats values, and names the first failure that was not ignored', (t) => {
  const report = new PlayReport();
  for (const line of LINES) report.add(parseEventLine(line));
  t.is(report.tasks.length, 3);
  t.is(report.firstFailure()?.task, 'Mount home store');
  t.deepEqual(report.stats['vm-1'], { changed: 1, failures: 1, ignored: 1, ok: 2, rescued: 0, skipped: 0, unreachable: 0 });
  t.deepEqual(report.custom, { 'vm-1': { home_created: true } });
  t.is(report.currentTask, 'restart sshd');
});

test('an unreachable host is a failure; a play with only ignored failures has none', (t) => {
  const ignoredOnly = new PlayReport();
  ignoredOnly.add(parseEventLine(LINES[4]!));
  t.is(ignoredOnly.firstFailure(), undefined);
  const unreachable = new PlayReport();
  unreachable.add(parseEventLine('{"event": "result", "host": "vm-2", "msg": "ssh: connect timed out", "status": "unreachable", "task": "Gathering Facts"}'));
  t.is(unreachable.firstFailure()?.status, 'unreachable');
});

test("anything that is not a known event is kept as text: Ansible's own output, bad JSON, unknown events", (t) => {
  for (const line of ['[WARNING]: No inventory was parsed', '{not json', '{"event": "no_hosts"}', '{"no": "event"}', '["event"]', '']) {
    t.deepEqual(parseEventLine(line), { kind: 'text', line }, line);
  }
});

test('a result with an unknown status counts as failed, and odd field types are made safe', (t) => {
  t.deepEqual(parseEventLine('{"event": "result", "host": 7, "rc": "1", "status": "weird", "task": null}'), {
    kind: 'result',
    result: { host: '7', task: '', status: 'failed' },
  });
  t.deepEqual(parseEventLine('{"event": "stats"}'), { kind: 'stats', hosts: {}, custom: {} });
});

test('each event reads as one line in the run log', (t) => {
  const lines = LINES.map((line) => describeEvent(parseEventLine(line)));
  t.deepEqual(lines, [
    'PLAY Provision',
    'TASK baseline : Install packages',
    'CHANGED [vm-1] baseline : Install packages',
    'TASK Probe',
    'FAILED (ignored) [vm-1] Probe: non-zero return code',
    'TASK Mount home store',
    'FAILED [vm-1] Mount home store: mount: permission denied',
    'TASK restart sshd (handler)',
    'RECAP vm-1 ok=2 changed=1 failed=1 unreachable=0 skipped=0 rescued=0',
  ]);
  const text: PlayEvent = { kind: 'text', line: 'plain output' };
  t.is(describeEvent(text), '| plain output');
});
