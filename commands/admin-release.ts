import { REASON_FLAG, YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { actions, fields, reply, text } from '../src/chat/reply.ts';

export const adminRelease: CommandSpec = {
  name: 'admin release',
  summary: 'Admins: end anyone’s lease now; the holder is told who and why, the VM destroyed and the pool refilled. Asks to confirm unless --yes.',
  args: [{ name: 'vm', description: 'The claimed VM, e.g. excitations-k3f9.', required: true }],
  flags: [REASON_FLAG, YES_FLAG],
  examples: ['admin release excitations-k3f9 --reason image rebuild --yes', 'admin release excitations-k3f9'],
  permission: 'admin',
  handler({ args, flags, values, service, audit }) {
    const { lease, released } = service.admin.release(audit!, args.vm!, flags.has('yes'));
    const reason = values.get('reason');
    if (!released) {
      service.auditAdminCommand(audit!, 'asked to confirm');
      const again = `admin release ${lease.vm.name}${reason ? ` --reason ${reason}` : ''} --yes`;
      return reply(
        'warning',
        `End ${lease.user}’s lease of ${lease.vm.name}?`,
        text(`The VM will be destroyed; anything outside ${lease.user}’s home directory is lost. ${lease.user} will be told who ended it${reason ? ' and why' : ''}.`),
        fields({ label: 'Holder', value: lease.user }, { label: 'Pool', value: lease.pool }, { label: 'Expires', value: { time: lease.expiresAt } }),
        reason ? undefined : text('Say why with --reason TEXT: the holder reads it.'),
        text(`To confirm, say: ${again}`),
        actions({ label: `End ${lease.vm.name}`, command: again, style: 'danger' }),
      );
    }
    return reply(
      'success',
      `${lease.vm.name} released`,
      text(`${lease.user}’s lease ended; they are told who ended it${reason ? ' and why' : ''}. The VM is being destroyed and pool ${lease.pool} refilled.`),
    );
  },
};
