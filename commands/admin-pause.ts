import { REASON_FLAG, YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, text } from '../src/chat/reply.ts';

export const adminPause: CommandSpec = {
  name: 'admin pause',
  summary: 'Admins: freeze the reconciler for a pool, or all: no boots, no deletions, while you investigate; leases still expire and remind.',
  args: [{ name: 'pool', description: 'The pool, or all.', required: true }],
  flags: [REASON_FLAG, YES_FLAG],
  examples: ['admin pause excitations --reason looking at the image', 'admin pause all'],
  permission: 'admin',
  handler({ args, service, audit }) {
    const { pools, changed } = service.admin.pause(audit!, args.pool!, true);
    const names = pools.map((p) => p.name).join(', ');
    return reply(
      changed.length ? 'success' : 'info',
      changed.length ? `Paused: ${changed.join(', ')}` : `Already paused: ${names}`,
      text('Nothing is booted or deleted for it until it is resumed; claims of ready VMs, reminders and expiries go on (an expired VM is deleted after resume).'),
      text(`Resume with: admin resume ${args.pool!.toLowerCase() === 'all' ? 'all' : pools[0]!.name}`),
    );
  },
};
