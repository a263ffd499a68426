import { REASON_FLAG, YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, text } from '../src/chat/reply.ts';

export const adminResume: CommandSpec = {
  name: 'admin resume',
  summary: 'Admins: let the reconciler act on a paused pool, or all, again; also closes the circuit of a pool that stopped booting after failures.',
  args: [{ name: 'pool', description: 'The pool, or all.', required: true }],
  flags: [REASON_FLAG, YES_FLAG],
  examples: ['admin resume excitations', 'admin resume all'],
  permission: 'admin',
  handler({ args, service, audit }) {
    const { pools, changed } = service.admin.pause(audit!, args.pool!, false);
    if (!changed.length) return reply('info', `Not paused: ${pools.map((p) => p.name).join(', ')}`, text('Nothing changed.'));
    return reply('success', `Resumed: ${changed.join(', ')}`, text('The reconciler boots and deletes for it again from the next tick; a failing pool’s open circuit is closed, so it boots again.'));
  },
};
