/**
 * The crash harness's invariants of the waitlist: one entry per user and pool, a held VM held
 * for one entry only and never leased to anyone but through its hold, nobody waiting for a VM
 * of a pool they hold one of, no acknowledged place in a queue lost across kills, and each hold
 * message printed at most once per row in the outbox.
 */
import type { Ledger } from './invariants.ts';
import type { Snapshot } from './world.ts';

export type QueueDmKind = 'hold' | 'hold-lapsed' | 'queue-served' | 'queue-dropped';

/** The waitlist's direct messages as the terminal prints them, and what each names. */
export const QUEUE_DM_KINDS: [QueueDmKind, RegExp][] = [
  ['hold', /^✔ A VM of \S+ is ready for you: (\S+)$/],
  ['hold-lapsed', /^! (\S+) was passed to the next in line$/],
  ['queue-served', /^✔ Your turn: (\S+) is yours for /],
  ['queue-dropped', /^! You have left the queue for (\S+)$/],
];

const MAYBE_DELIVERED = new Set(['sent', 'sending', 'interrupted']);

export function checkWaitlist(s: Snapshot, ledger: Ledger): string[] {
  const problems: string[] = [];
  const waitlist = s.waitlist ?? [];
  const vmById = new Map(s.vms.map((vm) => [vm.id, vm]));
  const vmByName = new Map(s.vms.map((vm) => [vm.name, vm]));
  const entries = new Set<string>();
  const holds = new Map<string, string>();
  for (const e of waitlist) {
    const key = `${e.pool}/${e.user}`;
    if (entries.has(key)) problems.push(`${e.user} is in the queue for ${e.pool} twice`);
    entries.add(key);
    const live = s.leases.filter((l) => l.ended_at === null && l.user === e.user && l.pool === e.pool);
    if (live.length > 0) problems.push(`${e.user} waits in the queue for ${e.pool} while holding ${live.map((l) => vmById.get(l.vm_id)?.name ?? l.vm_id).join(', ')} of it (one per user)`);
    if (e.held_vm_id === null) continue;
    const vm = vmById.get(e.held_vm_id);
    if (!vm) {
      problems.push(`a VM held for ${e.user} (${e.held_vm_id}) has no record`);
      continue;
    }
    if (holds.has(vm.id)) problems.push(`${vm.name} is held for both ${holds.get(vm.id)} and ${e.user}`);
    holds.set(vm.id, e.user);
    const lease = s.leases.find((l) => l.vm_id === vm.id && l.ended_at === null);
    if (lease) problems.push(`${vm.name} is held for ${e.user} but leased to ${lease.user}: one VM promised to two people`);
    if (vm.pool !== e.pool) problems.push(`${vm.name} of ${vm.pool} is held for ${e.user} in the queue for ${e.pool}`);
  }

  // No place lost: an acknowledged place is kept until its user is served, leaves, or is told
  // they left (a lapsed hold, or a VM of the pool they got meanwhile).
  for (const j of ledger.joins) {
    if (entries.has(`${j.pool}/${j.user}`)) continue;
    const since = ledger.lives.find((l) => l.life === j.life)?.spawnedAt ?? 0;
    const served = s.leases.some((l) => l.user === j.user && l.pool === j.pool && l.claimed_at >= since);
    const left = ledger.leaves.some((l) => l.user === j.user && l.pool === j.pool && l.life >= j.life);
    const told = s.outbox.some((m) => m.kind === 'waitlist' && m.user === j.user && /^(hold-lapsed|queue-dropped):/.test(m.key) && m.created_at >= since);
    if (!served && !left && !told) problems.push(`${j.user}'s place in the queue for ${j.pool}, acknowledged in life ${j.life}, was lost`);
  }

  // At most once: each hold printed has its own outbox row, sent or handed over.
  const printed = new Map<string, number>();
  for (const dm of ledger.queueDms) if (dm.kind === 'hold') printed.set(`${dm.to} ${dm.subject}`, (printed.get(`${dm.to} ${dm.subject}`) ?? 0) + 1);
  for (const [key, n] of printed) {
    const [user, name] = key.split(' ') as [string, string];
    const vmId = vmByName.get(name)?.id;
    const rows = s.outbox.filter((m) => m.kind === 'waitlist' && m.user === user && m.key.startsWith('hold:') && vmId !== undefined && m.key.endsWith(`:${vmId}`) && MAYBE_DELIVERED.has(m.status)).length;
    if (n > rows) problems.push(`${n} hold message(s) offering ${name} to ${user} were printed, but the outbox has ${rows} sent or being sent`);
  }
  return problems;
}
