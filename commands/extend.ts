import type { CommandSpec } from '../src/chat/command-spec.ts';
import { leaseBlocks } from '../src/chat/lease-card.ts';
import { reply } from '../src/chat/reply.ts';
import { formatDuration } from '../src/core/duration.ts';

export const extend: CommandSpec = {
  name: 'extend',
  summary: 'Push your VM’s expiry out by the pool’s extension step, up to its limit.',
  args: [{ name: 'vm', description: 'The VM to extend (needed only if you have more than one).' }],
  examples: ['extend', 'extend excitations-k3f9'],
  permission: 'user',
  handler({ who, args, service, now }) {
    const lease = service.extend(who, args.vm);
    const pool = service.pool(lease.pool);
    return reply('success', `${lease.vm.name} extended by ${formatDuration(pool.extensionStepMs)}`, ...leaseBlocks(lease, pool, now));
  },
};
