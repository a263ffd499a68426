import { REASON_FLAG, YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { actions, reply, text } from '../src/chat/reply.ts';

export const adminDrain: CommandSpec = {
  name: 'admin drain',
  summary: 'Admins: close a pool for maintenance — claims are refused with the reason, ready VMs retired, claimed ones kept until their leases end. Asks to confirm unless --yes.',
  args: [{ name: 'pool', description: 'The pool, e.g. excitations.', required: true }],
  flags: [REASON_FLAG, YES_FLAG],
  examples: ['admin drain excitations --reason image rebuild --yes'],
  permission: 'admin',
  handler({ args, flags, values, service, audit }) {
    const reason = values.get('reason');
    if (!flags.has('yes')) {
      const { pool } = service.admin.control(args.pool!);
      service.auditAdminCommand(audit!, 'asked to confirm');
      const again = `admin drain ${pool.name}${reason ? ` --reason ${reason}` : ''} --yes`;
      return reply(
        'warning',
        `Close ${pool.name} for maintenance?`,
        text(`Claims will be refused${reason ? ` with "${pool.name} is closed for maintenance: ${reason}."` : ''} and its ready VMs destroyed; claimed VMs stay until their leases end.`),
        reason ? undefined : text('Say why with --reason TEXT: users who try to claim read it.'),
        text(`To confirm, say: ${again}`),
        actions({ label: `Drain ${pool.name}`, command: again, style: 'danger' }),
      );
    }
    const { pool, control } = service.admin.drain(audit!, args.pool!, true);
    return reply(
      'success',
      `${pool.name} is closed for maintenance`,
      text(`Claims are answered: "${pool.name} is closed for maintenance: ${control.drained!.reason}. Ask ${pool.owner.name} (${pool.owner.contact})." Its ready VMs are being retired; claimed ones stay until their leases end.`),
      text(`Reopen it with: admin undrain ${pool.name}`),
    );
  },
};
