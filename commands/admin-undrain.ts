import { REASON_FLAG, YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, text } from '../src/chat/reply.ts';

export const adminUndrain: CommandSpec = {
  name: 'admin undrain',
  summary: 'Admins: reopen a drained pool; it is refilled to its warm size.',
  args: [{ name: 'pool', description: 'The pool, e.g. excitations.', required: true }],
  flags: [REASON_FLAG, YES_FLAG],
  examples: ['admin undrain excitations'],
  permission: 'admin',
  handler({ args, service, audit }) {
    const { pool, control, changed } = service.admin.drain(audit!, args.pool!, false);
    const size = control.size ?? pool.size;
    if (!changed) return reply('info', `${pool.name} was not drained`, text('Nothing changed: it is open for claims.'));
    return reply('success', `${pool.name} is open again`, text(`Claims are accepted again; the pool is being refilled to ${size} warm VMs.`));
  },
};
