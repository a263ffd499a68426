import { REASON_FLAG, YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, text } from '../src/chat/reply.ts';
import { UserError } from '../src/core/errors.ts';

export const adminResize: CommandSpec = {
  name: 'admin resize',
  summary: 'Admins: change how many VMs a pool keeps warm (0 … its maximum) until reset; kept across restarts. `reset` returns to the configured size.',
  args: [
    { name: 'pool', description: 'The pool, e.g. excitations.', required: true },
    { name: 'size', description: 'Warm VMs to keep, or reset.', required: true },
  ],
  flags: [REASON_FLAG, YES_FLAG],
  examples: ['admin resize excitations 7', 'admin resize excitations reset'],
  permission: 'admin',
  handler({ args, service, audit }) {
    const word = args.size!.toLowerCase();
    if (word !== 'reset' && !/^\d{1,6}$/.test(word)) {
      throw new UserError('BAD_INPUT', `"${args.size}" is not a size: write a whole number or reset.`, `e.g. admin resize ${args.pool} 5`);
    }
    const { pool, control, before, after: now } = service.admin.resize(audit!, args.pool!, word === 'reset' ? null : Number(word));
    const drained = control.drained ? ` It stays empty while drained (${control.drained.reason}); admin undrain ${pool.name} reopens it.` : '';
    const paused = control.paused ? ` It is paused: nothing is booted or retired until admin resume ${pool.name}.` : '';
    return reply(
      'success',
      control.size === null
        ? `${pool.name} keeps ${now} VMs warm, as ${pool.schedule?.length ? 'configured and scheduled' : 'configured'}`
        : `${pool.name} keeps ${now} VMs warm (configured: ${pool.size})`,
      text(
        `${now > before ? `The pool is being filled to ${now} now.` : now < before ? `Ready VMs beyond ${now} are retired now; claimed ones are not touched.` : 'No change to the VMs.'}${drained}${paused}`,
      ),
      control.size === null ? undefined : text(`Back to the configured size with: admin resize ${pool.name} reset`),
    );
  },
};
