import type { CommandSpec } from '../src/chat/command-spec.ts';
import { leaseBlocks } from '../src/chat/lease-card.ts';
import { queueBlocks } from '../src/chat/queue-card.ts';
import { reply, text } from '../src/chat/reply.ts';

export const status: CommandSpec = {
  name: 'status',
  summary: 'Your VMs (address, time left, extensions left) and your places in queues.',
  args: [],
  examples: ['status'],
  permission: 'user',
  handler({ who, service, now }) {
    const leases = service.leasesOf(who);
    const queues = service.queuesOf(who);
    if (leases.length === 0 && queues.length === 0) return reply('info', 'You have no VM at the moment.', text('Claim one with: claim <pool>  (see: pools)'));
    const vms = leases.length === 0 ? 'No VM yet' : leases.length === 1 ? 'Your VM' : `Your ${leases.length} VMs`;
    const waiting = queues.length === 0 ? '' : queues.length === 1 ? `; number ${queues[0]!.position} in the queue for ${queues[0]!.entry.pool}` : `; waiting in ${queues.length} queues`;
    return reply('info', `${vms}${waiting}`, ...leases.flatMap((lease) => leaseBlocks(lease, service.leasePool(lease), now)), ...queueBlocks(queues));
  },
};
