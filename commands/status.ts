import type { CommandSpec } from '../src/chat/command-spec.ts';
import { leaseBlocks } from '../src/chat/lease-card.ts';
import { reply, text } from '../src/chat/reply.ts';

export const status: CommandSpec = {
  name: 'status',
  summary: 'Your VMs: address, time left, extensions left.',
  args: [],
  examples: ['status'],
  permission: 'user',
  handler({ who, service, now }) {
    const leases = service.leasesOf(who);
    if (leases.length === 0) return reply('info', 'You have no VM at the moment.', text('Claim one with: claim <pool>  (see: pools)'));
    return reply(
      'info',
      leases.length === 1 ? 'Your VM' : `Your ${leases.length} VMs`,
      ...leases.flatMap((lease) => leaseBlocks(lease, service.pool(lease.pool), now)),
    );
  },
};
