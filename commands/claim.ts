import type { CommandSpec } from '../src/chat/command-spec.ts';
import { leaseBlocks } from '../src/chat/lease-card.ts';
import { queuedReply } from '../src/chat/queue-card.ts';
import { reply, text } from '../src/chat/reply.ts';
import { formatDuration } from '../src/core/duration.ts';

export const claim: CommandSpec = {
  name: 'claim',
  summary: 'Get an analysis VM from a pool, at once, or a place in its queue when none is ready.',
  args: [{ name: 'pool', description: 'The pool to claim from.', required: true }],
  examples: ['claim excitations', 'claim excitations-gpu'],
  permission: 'user',
  async handler({ who, origin, args, service, now }) {
    // Committed together with the other claims of this moment (group commit).
    const claimed = await service.claimTogether(who, args.pool!, origin);
    if (claimed.queued) {
      const q = claimed.queued;
      return queuedReply(q.pool, q.position, q.estimateMs, q.joined, q.autoAssign);
    }
    const lease = claimed.lease;
    const pool = service.pool(lease.pool);
    return reply(
      'success',
      `${lease.vm.name} is yours for ${formatDuration(pool.leaseMs)}`,
      text(`Your account and home directory are being set up on it: a message follows when they are ready. You will be reminded ${pool.remindBeforeMs.map((ms) => formatDuration(ms)).join(', ')} before it is torn down.`),
      ...leaseBlocks(lease, pool, now),
    );
  },
};
