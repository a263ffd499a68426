import test from 'ava';
import { emptyLedger, parseTranscript } from './invariants.ts';
import { checkWaitlist } from './waitlist-invariants.ts';
import type { Snapshot } from './world.ts';

const T = Date.UTC(2026, 0, 5, 9);
const vm = (id: string, state: string) => ({ id, name: `physics-${id}`, pool: 'physics', state, server_id: `s-${id}` });
const base = (): Snapshot => ({
  vms: [vm('a', 'claimed'), vm('b', 'ready')],
  leases: [{ id: 'l-a', vm_id: 'a', pool: 'physics', user: 'alice', claimed_at: T, expires_at: T + 10_000, extensions_used: 0, home_ready_at: T, ended_at: null, end_reason: null }],
  reminders: [],
  outbox: [{ key: 'hold:1:b', kind: 'waitlist', lease_id: null, user: 'bob', status: 'sent', created_at: T + 10, deliver_by: T + 1_510 }],
  audit: [],
  waitlist: [{ id: 1, pool: 'physics', user: 'bob', held_vm_id: 'b', held_until: T + 1_510 }, { id: 2, pool: 'physics', user: 'carol', held_vm_id: null, held_until: null }],
  servers: [],
});

test('the waitlist invariants pass a healthy state and name each way of breaking it', (t) => {
  const ledger = emptyLedger();
  ledger.lives.push({ life: 1, spawnedAt: T - 100, endedAt: T + 900 });
  ledger.joins.push({ user: 'bob', pool: 'physics', life: 1 }, { user: 'carol', pool: 'physics', life: 1 });
  ledger.queueDms.push({ to: 'bob', kind: 'hold', subject: 'physics-b', life: 1 });
  t.deepEqual(checkWaitlist(base(), ledger), []);

  const broken = (change: (s: Snapshot) => void, l = ledger) => {
    const s = base();
    change(s);
    return checkWaitlist(s, l).join('\n');
  };
  t.regex(broken((s) => s.leases.push({ ...s.leases[0]!, id: 'l-b', vm_id: 'b', user: 'dave' })), /physics-b is held for bob but leased to dave: one VM promised to two people/);
  t.regex(broken((s) => s.waitlist!.push({ id: 3, pool: 'physics', user: 'alice', held_vm_id: null, held_until: null })), /alice waits in the queue for physics while holding physics-a/);
  t.regex(broken((s) => (s.waitlist![1]!.held_vm_id = 'b')), /physics-b is held for both bob and carol/);
  t.regex(broken((s) => s.waitlist!.pop()), /carol's place in the queue for physics, acknowledged in life 1, was lost/);
  t.deepEqual(broken((s) => {
    s.waitlist!.pop();
    s.outbox.push({ key: 'hold-lapsed:2:b', kind: 'waitlist', lease_id: null, user: 'carol', status: 'pending', created_at: T + 500, deliver_by: T + 86_400_000 });
  }), '', 'told they left');
  t.regex(broken((s) => (s.outbox[0]!.status = 'pending')), /1 hold message\(s\) offering physics-b to bob were printed, but the outbox has 0 sent/);
});

test('the transcript reads places in queues, queues left and the waitlist’s direct messages', (t) => {
  const out = [
    '• You are number 2 in the queue for physics',
    '• You are already in the queue for imaging: number 1',
    '✔ You left the queue for imaging',
    '✔ You passed physics-k3f9 on and left the queue for physics',
    '[direct message to bob]',
    '✔ A VM of physics is ready for you: physics-k3f9',
    '[direct message to bob]',
    '! physics-k3f9 was passed to the next in line',
    '',
  ].join('\n');
  const tr = parseTranscript(out);
  t.deepEqual(tr.joins, ['physics', 'imaging']);
  t.deepEqual(tr.leaves, ['imaging', 'physics']);
  t.deepEqual(tr.queueDms, [{ to: 'bob', kind: 'hold', subject: 'physics-k3f9' }, { to: 'bob', kind: 'hold-lapsed', subject: 'physics-k3f9' }]);
  t.deepEqual(tr.faults, []);
});
