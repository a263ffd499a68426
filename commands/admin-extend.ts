import { REASON_FLAG, YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { fields, reply, text } from '../src/chat/reply.ts';
import { parseDurationMs } from '../src/core/duration.ts';
import { UserError } from '../src/core/errors.ts';

export const adminExtend: CommandSpec = {
  name: 'admin extend',
  summary: 'Admins: extend anyone’s lease beyond the pool’s limits, up to the cap (access.adminMaxLease, 7d in all); the holder is told.',
  args: [
    { name: 'vm', description: 'The claimed VM, e.g. excitations-k3f9.', required: true },
    { name: 'duration', description: 'How much longer, e.g. 12h or 2d.', required: true },
  ],
  flags: [REASON_FLAG, YES_FLAG],
  examples: ['admin extend excitations-k3f9 2d --reason beam time moved'],
  permission: 'admin',
  handler({ args, values, service, audit }) {
    const byMs = parseDurationMs(args.duration!);
    if (byMs === undefined || byMs <= 0) {
      throw new UserError('BAD_INPUT', `"${args.duration}" is not a duration.`, `Write e.g. 12h, 2d or 1d12h: admin extend ${args.vm} 1d`);
    }
    const lease = service.admin.extend(audit!, args.vm!, byMs);
    const reason = values.get('reason');
    return reply(
      'success',
      `${lease.vm.name} extended`,
      text(`${lease.user}’s lease was extended; they are told who extended it${reason ? ' and why' : ''}.`),
      fields({ label: 'Holder', value: lease.user }, { label: 'Expires', value: { time: lease.expiresAt } }, { label: 'Lease in all', value: { duration: lease.expiresAt - lease.claimedAt } }),
    );
  },
};
