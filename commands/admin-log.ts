import { YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { fields, reply, text } from '../src/chat/reply.ts';

export const adminLog: CommandSpec = {
  name: 'admin log',
  summary: 'Admins: the end of the last provisioning run (provision, claim or release play) of a VM.',
  args: [{ name: 'vm', description: 'the VM, e.g. excitations-7xk2', required: true }],
  examples: ['admin log excitations-7xk2'],
  flags: [YES_FLAG],
  permission: 'admin',
  async handler({ args, service }) {
    const { vm, log } = await service.provisioningLog(args.vm!);
    const about = fields({ label: 'VM', value: vm.name }, { label: 'Pool', value: vm.pool }, { label: 'State', value: vm.detail ? `${vm.state}: ${vm.detail}` : vm.state });
    if (!log) return reply('info', `${vm.name} has no provisioning log`, about, text('No provisioning run of this VM is on record here (runs are logged from the first one this bot started).'));
    return reply('info', `Last provisioning run of ${vm.name}`, about, text(`Log: ${log.file} (last ${log.lines.length} lines)`), text(log.lines.join('\n')));
  },
};
