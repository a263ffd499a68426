/**
 * What users see of the waitlist: the answer to a claim that queued, the direct message of a
 * VM held for them (Claim it / Pass), a hold that lapsed, and queue positions in status.
 * Buttons are neutral actions (reply.ts): every platform renders and routes them as it does
 * Extend and Release.
 */
import type { LeaseView, PoolSpec } from '../core/model.ts';
import { formatDuration } from '../core/duration.ts';
import type { QueueEntry } from '../ports/waitlist.ts';
import { leaseBlocks } from './lease-card.ts';
import { actions, fields, reply, table, text, type Block, type Reply } from './reply.ts';

export const leaveButton = (pool: string) => ({ label: 'Leave the queue', command: `leave ${pool}`, style: 'danger' as const });

/** A claim on an empty pool put the user in its queue (or found them in it already). */
export function queuedReply(pool: PoolSpec, position: number, estimateMs: number, joined: boolean, autoAssign: boolean): Reply {
  const then = autoAssign
    ? 'When a VM is ready for you it is yours at once, and a message brings its details.'
    : 'When a VM is ready for you it is held for you and a message asks you to claim it.';
  return reply(
    'info',
    joined ? `You are number ${position} in the queue for ${pool.name}` : `You are already in the queue for ${pool.name}: number ${position}`,
    text(`No VM is ready in ${pool.name} right now. ${then}`),
    fields({ label: 'Position', value: String(position) }, { label: 'Expected wait', value: `about ${formatDuration(Math.max(estimateMs, 1_000))}` }),
    actions(leaveButton(pool.name)),
  );
}

/** The direct message of a VM held for the head of the queue. */
export function holdOfferMessage(pool: PoolSpec, vmName: string, until: number): Reply {
  return reply(
    'success',
    `A VM of ${pool.name} is ready for you: ${vmName}`,
    text(`It is held for you for ${formatDuration(pool.holdForMs ?? 0)}. Claim it, or pass it to the next in line (you then leave the queue). If you do neither, it goes to the next in line and you leave the queue.`),
    fields({ label: 'VM', value: vmName }, { label: 'Held until', value: { time: until } }),
    actions({ label: 'Claim it', command: `claim ${pool.name}`, style: 'primary' }, { label: 'Pass', command: `leave ${pool.name}`, style: 'danger' }),
  );
}

/** The hold ran out: the VM went to the next in line and the user left the queue. */
export function holdLapsedMessage(pool: PoolSpec, vmName: string): Reply {
  return reply(
    'warning',
    `${vmName} was passed to the next in line`,
    text(`It was held for you for ${formatDuration(pool.holdForMs ?? 0)} and not claimed, so you have left the queue for ${pool.name}. Claim again to queue again.`),
    actions({ label: `Claim ${pool.name}`, command: `claim ${pool.name}`, style: 'primary' }),
  );
}

/** With autoAssign the VM was leased at once: the claim card, as a direct message. */
export function autoAssignedMessage(lease: LeaseView, pool: PoolSpec, now: number): Reply {
  return reply(
    'success',
    `Your turn: ${lease.vm.name} is yours for ${formatDuration(pool.leaseMs)}`,
    text('You were first in the queue and a VM got ready. Your account and home directory are being set up on it: a message follows when they are ready.'),
    ...leaseBlocks(lease, pool, now),
  );
}

/** The user was taken out of the queue because they can no longer have a VM from it. */
export function queueDroppedMessage(pool: string, why: string): Reply {
  return reply('warning', `You have left the queue for ${pool}`, text(why));
}

/** `status`: the queues the user is in. */
export function queueBlocks(entries: readonly { entry: QueueEntry; position: number }[]): Block[] {
  if (entries.length === 0) return [];
  return [
    table(
      ['Queue', 'Position', 'Waiting since', 'VM held for you'],
      entries.map(({ entry, position }) => [entry.pool, String(position), { time: entry.joinedAt }, entry.hold ? { time: entry.hold.until } : 'not yet']),
    ),
    actions(...entries.map(({ entry }) => (entry.hold ? { label: `Claim ${entry.pool}`, command: `claim ${entry.pool}`, style: 'primary' as const } : leaveButton(entry.pool)))),
  ];
}
